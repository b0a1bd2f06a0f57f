"""The bad-input corpus: every bad line gets its documented error, counted; good lines go out."""
import os
import shlex

import pytest

from conftest import records, run, stats_of

FIXTURES = os.path.join(os.path.dirname(__file__), "../../fixtures")


def expectations():
    exp = {}
    with open(os.path.join(FIXTURES, "bad-records.expected")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            n, err = line.rstrip("\n").split(": ", 1)
            exp[int(n)] = None if err == "-" else err
    return exp


def test_corpus_is_reported_line_by_line_and_counted(tmp_path):
    corpus = open(os.path.join(FIXTURES, "bad-records.jsonl"), "rb").read()
    out = tmp_path / "out.bin"
    r = run("m2m-send", f"file:{out}", "--max-line", "4096", "--stats", input=corpus)
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    exp = expectations()
    errors = [l for l in err.splitlines() if l.startswith("m2m-send: error: line ")]
    for n, want in exp.items():
        got = [l for l in errors if l.startswith(f"m2m-send: error: line {n}: ")]
        if want is None:
            assert not got, f"line {n} should be accepted: {got}"
        else:
            assert len(got) == 1 and want in got[0], f"line {n}: want {want!r}, got {got}"
    bad = sum(1 for v in exp.values() if v)
    st = stats_of(r.stderr)
    assert st["bad_records"] == bad
    assert st["frames_out"] == len(exp) - bad
    assert out.read_bytes() == b'fine\n{"deep":[1,2,{"x":null}]}\n'


def test_strict_stops_at_the_first_bad_line_with_exit_3(tmp_path):
    out = tmp_path / "out.bin"
    r = run("m2m-send", f"file:{out}", "--strict", input='{"text":"ok"}\n{"text":"a","b64":"AA=="}\n{"text":"never"}\n')
    assert r.returncode == 3
    assert "line 2: two payload keys" in r.stderr.decode()
    assert out.read_bytes() == b"ok\n"


def test_frames_a_framing_cannot_carry_are_reported(tmp_path):
    out = tmp_path / "out.bin"
    r = run("m2m-send", f"file:{out}", "--stats", input='{"text":"two\\nlines"}\n{"text":""}\n', )
    assert r.returncode == 0
    assert "line 1: payload contains the line delimiter" in r.stderr.decode()
    r = run("m2m-send", f"file:{out}", "--framing", "slip", input='{"text":""}\n')
    assert "line 1: SLIP cannot carry an empty frame" in r.stderr.decode()
    r = run("m2m-send", f"file:{out}", "--framing", "fixed:4", input='{"text":"12345"}\n')
    assert "line 1: frame is 5 bytes; fixed:4 needs exactly 4" in r.stderr.decode()


def test_listener_counts_and_reports_garbage_and_overlong_frames(tmp_path):
    stream = tmp_path / "stream.bin"
    # garbage, a good SLIP frame, a bad escape, an overlong frame, a good frame
    stream.write_bytes(b"junk\xc0ok\xc0b\xdbx\xc0" + b"L" * 40 + b"\xc0end\xc0")
    r = run("m2m-listen", f"file:{stream}", "--framing", "slip", "--max-frame", "16", "--stats")
    assert r.returncode == 0, r.stderr.decode()
    recs = records(r.stdout)
    assert [x.get("text") for x in recs] == ["ok", "L" * 16, "end"]
    assert "overlong" in recs[1]["err"]
    st = stats_of(r.stderr)
    assert st["drops"] == {"bad_escape": 1, "garbage": 1, "overlong": 1}
    assert st["dropped_bytes"] == {"bad_escape": 3, "garbage": 4, "overlong": 24}
    assert st["bad_frames"] == 1
    strict = run("m2m-listen", f"file:{stream}", "--framing", "slip", "--max-frame", "16", "--strict")
    assert strict.returncode == 3
    assert "dropped" in strict.stderr.decode()


def map_cases():
    """(case, expected message, TOML text) from fixtures/bad-maps.toml."""
    cases, name, want, body = [], None, None, []
    for line in open(os.path.join(FIXTURES, "bad-maps.toml")):
        if line.startswith("# --- "):
            if name:
                cases.append((name, want, "".join(body)))
            name, want = line[6:].rstrip("\n").split(": ", 1)
            body = []
        elif name:
            body.append(line)
    cases.append((name, want, "".join(body)))
    return cases


@pytest.mark.parametrize("case,want,text", map_cases(), ids=[c[0] for c in map_cases()])
def test_a_bad_register_map_is_refused_with_its_error(tmp_path, case, want, text):
    """Settings are validated, not taken wrongly: unit="5" polled unit 1, unit=4294967301 polled
    unit 5, scale="0.1" and misspelled keys were ignored."""
    f = tmp_path / "map.toml"
    f.write_text(text)
    r = run("bridge", "pty:", "mqtt://127.0.0.1:1", "--framing", "modbus-rtu", "--map", str(f))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert f"--map {f}: " in err and want in err, err


@pytest.mark.parametrize("max_line", [None, "2000000"])
def test_an_overlong_line_is_skipped_and_the_rest_goes_out(tmp_path, max_line):
    """A line longer than --max-line is reported and skipped, and the lines after it are sent: with
    the default 1 MiB limit and a 1.5 MB line, or a 2 MB limit and a 2.5 MB line, m2m-send read up
    to 1 MiB, stopped reading, and waited forever for the rest of the line to decide."""
    size = 1_500_000 if max_line is None else 2_500_000
    text = b'{"text":"before"}\n' + b'{"text":"' + b"x" * size + b'"}\n' + b'{"text":"after"}\n'
    out = tmp_path / "out.bin"
    args = ["--max-line", max_line] if max_line else []
    r = run("m2m-send", f"file:{out}", "--stats", *args, input=text, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert "line 2: longer than" in r.stderr.decode()
    assert out.read_bytes() == b"before\nafter\n"
    st = stats_of(r.stderr)
    assert st["bad_records"] == 1 and st["frames_out"] == 2


def option_cases():
    cases = []
    with open(os.path.join(FIXTURES, "bad-options.txt")) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            code, want, cmd = (x.strip() for x in line.split(" | ", 2))
            cases.append((n, int(code), want, shlex.split(cmd.replace("{fixtures}", FIXTURES))))
    return cases


@pytest.mark.parametrize("n,code,want,argv", option_cases(), ids=[f"line{c[0]}" for c in option_cases()])
def test_a_bad_option_uri_duration_or_config_is_refused_at_start(n, code, want, argv):
    """fixtures/bad-options.txt: refused before any connection, with the option and the reason."""
    r = run(*argv, timeout=10)
    err = r.stderr.decode()
    assert r.returncode == code, f"bad-options.txt:{n}: {err}"
    assert want in err, f"bad-options.txt:{n}: {err}"
    assert "connection refused" not in err  # decided at start, not at connect
