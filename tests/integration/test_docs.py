"""--help, man pages and completions come from the same CLI11 definitions: the committed files
must be exactly what the tools generate now (regenerate with scripts/gen-docs)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import run, tool

TOP = os.path.join(os.path.dirname(__file__), "../..")
TOOLS = ["m2m-listen", "m2m-send", "iot-pub", "iot-sub", "bridge", "replay", "loadgen"]
GENERATED = [(t, kind, path) for t in TOOLS for kind, path in [
    ("man", f"man/{t}.1"), ("bash", f"completions/bash/{t}"), ("zsh", f"completions/zsh/_{t}"),
    ("fish", f"completions/fish/{t}.fish")]] + [("m2m-listen", "man7", "man/m2mkit.7")]


@pytest.mark.parametrize("tool_name,kind,path", GENERATED)
def test_committed_docs_match_the_definitions(tool_name, kind, path):
    r = run(tool_name, "--generate", kind)
    assert r.returncode == 0
    with open(os.path.join(TOP, path), "rb") as f:
        committed = f.read()
    assert r.stdout == committed, f"{path} is stale: run scripts/gen-docs and commit the result"


def short_flag_table():
    """m2mkit(7)'s SHORT FLAGS section: letter -> the long options it may stand for."""
    man = run("m2m-listen", "--generate", "man7").stdout.decode().replace("\\-", "-")
    section = man.split(".SH SHORT FLAGS")[1].split(".SH ")[0]
    return {letter: set(longs.split(", ")) for letter, longs in re.findall(r"\.B -(\w)\n([-a-z, ]+):", section)}


def test_a_short_flag_means_one_thing_in_every_tool():
    """Each tool's short flags, read from its --help, are the ones m2mkit(7) documents, with the same
    long option: -r is --retain wherever it exists, -h is --host, and so on."""
    table = short_flag_table()
    assert table["h"] == {"--host"} and table["r"] == {"--retain"} and table["l"] == {"--raw"}
    seen = {}
    for t in TOOLS:
        for letter, long in re.findall(r"^\s+-(\w),(--[a-z-]+)", run(t, "--help").stdout.decode(), re.M):
            assert letter in table, f"{t}: -{letter} ({long}) is not in m2mkit(7)'s SHORT FLAGS"
            assert long in table[letter], f"{t}: -{letter} is {long}, m2mkit(7) says {table[letter]}"
            seen.setdefault(letter, set()).add(t)
    assert set(seen) == set(table), f"documented but no tool has them: {set(table) - set(seen)}"


def test_a_letter_a_tool_lacks_says_what_it_means_and_what_the_tool_calls_it():
    cases = [("m2m-send", ["-i", "1s", "file:/dev/null"], "-i is --id", "did you mean --interval?"),
             ("m2m-listen", ["-h"], "-h is --host", "did you mean --help?"),
             ("m2m-listen", ["-i", "pty:"], "-i is --id", "did you mean --interactive (-I)?"),
             ("bridge", ["-F", "slip"], "-F is --mosquitto-format", "did you mean --framing?"),
             ("loadgen", ["mqtt://127.0.0.1:1", "-n", "5"], "-n is --null-message", "did you mean --devices?"),
             ("replay", ["-s", "2", "x.jsonl"], "-s is --stdin-file", "did you mean --speed?"),
             ("m2m-send", ["-r", "file:/dev/null"], "-r is --retain", "did you mean --raw (-l)?")]
    for t, args, means, hint in cases:
        r = run(t, *args)
        err = r.stderr.decode()
        assert r.returncode == 2 and f"{means.split()[0]} is no flag of {t}" in err and means in err and hint in err, err


@pytest.mark.parametrize("tool_name", TOOLS)
def test_every_option_in_help_is_in_the_man_page_and_completions(tool_name):
    help_text = run(tool_name, "--help").stdout.decode()
    man = open(os.path.join(TOP, f"man/{tool_name}.1")).read().replace("\\-", "-")
    bash = open(os.path.join(TOP, f"completions/bash/{tool_name}")).read()
    options_part = help_text.split("Exit status:")[0]
    longs = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", options_part))
    assert "--stats" in longs and ("--framing" in longs or "--qos" in longs)
    for opt in longs:
        assert opt in man, f"{opt} missing from the man page"
        assert opt in bash, f"{opt} missing from the bash completion"


@pytest.mark.skipif(not shutil.which("man"), reason="man-db is not installed")
@pytest.mark.parametrize("page", ["man/m2m-listen.1", "man/m2m-send.1", "man/iot-pub.1", "man/iot-sub.1", "man/m2mkit.7"])
def test_man_pages_render_without_warnings(page):
    r = subprocess.run(["man", "--warnings", "-l", os.path.join(TOP, page)], capture_output=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat"))
    assert r.returncode == 0
    assert r.stderr == b"", r.stderr.decode()
    assert b"EXIT STATUS" in r.stdout


COMPLETION_PROBES = {  # tool: [(words being completed, what bash must offer)]
    "m2m-listen": [("--fram", "--framing"), ("--framing s", "slip")],
    "m2m-send": [("--fram", "--framing"), ("--framing s", "slip")],
    "iot-pub": [("--qo", "--qos"), ("--qos ''", "0 1 2"), ("-V ''", "311 5"), ("--max-in", "--max-inflight")],
    "iot-sub": [("--qo", "--qos"), ("-q ''", "0 1 2"), ("-V ''", "311 5"), ("--retained", "--retained-only")],
    "bridge": [("--command", "--command-topic"), ("--framing modbus-t", "modbus-tcp"), ("-q ''", "0 1 2"),
               ("--payload ''", "auto text json hex b64")],
    "replay": [("--ser", "--serve --serve-map"), ("--framing modbus-r", "modbus-rtu"), ("--reb", "--rebase")],
    "loadgen": [("--total", "--total-rate"), ("-q ''", "0 1 2"), ("--fail", "--fail-if")],
}


@pytest.mark.parametrize("tool_name", TOOLS)
def test_bash_completion_completes_options_and_values(tool_name):
    script = os.path.join(TOP, f"completions/bash/{tool_name}")
    fn = "_" + tool_name.replace("-", "_")
    probes = COMPLETION_PROBES[tool_name]
    probe = f"source {script}; " + "".join(
        f'COMP_WORDS=({tool_name} {words}); COMP_CWORD={len(words.split())}; {fn}; echo "${{COMPREPLY[@]}}"; '
        for words, _ in probes)
    r = subprocess.run(["bash", "-c", probe], capture_output=True)
    assert r.stdout.decode().splitlines() == [want for _, want in probes]


def test_see_also_names_every_tool_and_help_every_framing():
    """The tool list and the framing list are written once (cli::tool_names, the framing registry)."""
    page = open(os.path.join(TOP, "man", "m2mkit.7")).read()
    see_also = page.split(".SH SEE ALSO", 1)[1]
    for t in TOOLS:
        assert f".BR {t.replace('-', chr(92) + '-')} (1)" in see_also, t
    for t in TOOLS:
        tail = open(os.path.join(TOP, "man", f"{t}.1")).read().split(".SH SEE ALSO", 1)[1]
        assert tail.count(".BR ") == len(TOOLS), t  # m2mkit(7) and the six others
    help_text = subprocess.run([tool("m2m-listen"), "--help"], capture_output=True, check=True).stdout.decode()
    for framing in ["line", "crlf", "cr", "slip", "cobs", "len:u8", "fixed:N", "idle:MS", "raw", "modbus-rtu",
                    "modbus-tcp", "nmea"]:
        assert framing in help_text, framing
