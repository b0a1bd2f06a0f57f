"""Exit status contract (docs/design.md): 0, 1, 2, 3, 4, 124, 130, each asserted."""
import os
import subprocess

from conftest import records, run, tool


def test_0_when_count_is_reached(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"a\nb\nc\n")
    r = run("m2m-listen", f"file:{f}", "-C", "2")
    assert r.returncode == 0
    assert [x["text"] for x in records(r.stdout)] == ["a", "b"]


def test_0_when_until_matches(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"booting\nREADY 1.2\nafter\n")
    r = run("m2m-listen", f"file:{f}", "--until", "^READY")
    assert r.returncode == 0
    assert [x["text"] for x in records(r.stdout)] == ["booting", "READY 1.2"]


def test_0_when_the_output_pipe_closes(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"line\n" * 200000)
    p = subprocess.Popen([tool("m2m-listen"), f"file:{f}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    assert p.wait(timeout=30) == 0
    assert p.stderr.read() == b""


def test_0_when_m2m_send_writes_to_a_pipe_that_closes(tmp_path):
    """m2m-send - | head -1: the reader going away ends the run as done (it said "link - lost:
    Broken pipe" and exited 1)."""
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"text":"line"}\n' * 200000)
    with open(f, "rb") as stdin:
        p = subprocess.Popen([tool("m2m-send"), "-"], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout.readline() == b"line\n"
        p.stdout.close()
        assert p.wait(timeout=30) == 0
    assert p.stderr.read() == b""


def test_2_for_usage_errors():
    r = run("m2m-listen", "serail:/dev/x")
    assert r.returncode == 2
    assert r.stderr.decode() == ("m2m-listen: error: bad URI 'serail:/dev/x': unknown scheme 'serail' "
                                 "(did you mean 'serial'?)\n")
    r = run("m2m-listen", "pty:", "--framing", "slpi")
    assert r.returncode == 2
    assert "unknown framing 'slpi' (did you mean 'slip'?)" in r.stderr.decode()
    r = run("m2m-send", "serial:/dev/x?baud=fast")
    assert r.returncode == 2
    assert "baud 'fast' is not a positive number" in r.stderr.decode()
    r = run("m2m-send", "serial:/dev/x?bud=9600")
    assert r.returncode == 2
    assert "unknown option 'bud' for serial: (did you mean 'baud'?)" in r.stderr.decode()
    r = run("m2m-listen", "--no-such-option")
    assert r.returncode == 2
    r = run("m2m-listen", "pty:", "--timeout", "5 parsecs")
    assert r.returncode == 2
    assert "bad duration" in r.stderr.decode()
    r = run("m2m-send")
    assert r.returncode == 2
    r = run("m2m-listen", "mqtt://localhost/x")
    assert r.returncode == 2
    assert "is a broker, not a link" in r.stderr.decode()


def test_3_for_bad_data_under_strict(tmp_path):
    r = run("m2m-send", f"file:{tmp_path / 'o'}", "--strict", input="{oops}\n")
    assert r.returncode == 3
    assert r.stderr.decode().startswith("m2m-send: error: line 1: ")


def test_4_when_the_device_is_absent(tmp_path):
    r = run("m2m-listen", f"serial:{tmp_path}/ttyUSB9")
    assert r.returncode == 4
    assert r.stderr.decode() == f"m2m-listen: error: cannot open {tmp_path}/ttyUSB9: no such device or file\n"
    r = run("m2m-send", "tcp://127.0.0.1:1", input="")
    assert r.returncode == 4
    assert "connection refused" in r.stderr.decode()
    r = run("m2m-listen", "serial:?serial-number=NOPE123")
    assert r.returncode == 4
    assert "no serial port matches" in r.stderr.decode()


def test_124_when_timeout_runs_out(tmp_path, procs):
    dev = str(tmp_path / "dev")
    r = run("m2m-listen", f"pty:{dev}", "--timeout", "300ms", "-C", "1")
    assert r.returncode == 124
    assert not os.path.lexists(dev), "the pty's symlink is removed at exit"


def test_1_when_the_link_is_lost_without_reconnect(tmp_path, procs):
    dev = str(tmp_path / "dev")
    device = procs("m2m-listen", f"pty:{dev}")
    device.wait_stderr("pty device at")
    sender = procs("m2m-send", f"serial:{dev}", "--no-reconnect", stdin=subprocess.PIPE)
    sender.p.stdin.write(b'{"text":"one"}\n')
    sender.p.stdin.flush()
    device.read_until(lambda out: b'"one"' in out)
    assert device.interrupt()[0] == 130  # the device goes away while the sender still has input open
    assert sender.p.wait(timeout=20) == 1
    err = sender.p.stderr.read().decode()
    assert f"m2m-send: error: link serial:{dev} lost" in err and "after 1 frame(s) went out" in err, err


def test_130_when_interrupted(tmp_path, procs):
    p = procs("m2m-listen", f"pty:{tmp_path}/dev")
    p.wait_stderr("pty device at")
    code, _, _ = p.interrupt()
    assert code == 130


def test_130_when_interrupted_while_reading_an_open_pipe(procs):
    """stdin as the link (-), a writer that stays: the caller's blocking stdin is read once per
    wake-up, so the loop is never stuck in read(2) and SIGINT ends the run."""
    p = procs("m2m-listen", "-", "--format", "raw", stdin=subprocess.PIPE)
    p.p.stdin.write(b"one\n")
    p.p.stdin.flush()
    p.read_until(lambda out: out == b"one\n")
    p.p.send_signal(2)
    assert p.p.wait(timeout=30) == 130
