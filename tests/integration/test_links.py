"""Links and modes beyond the pty: TCP, UDP, files, --reply polling, human view, --list."""
import json
import os
import select
import socket
import subprocess
import threading

from conftest import as_file, records, run, stats_of, tool


def test_send_over_tcp_to_a_real_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = []

    def serve():
        c, _ = srv.accept()
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        got.append(data)

    t = threading.Thread(target=serve)
    t.start()
    r = run("m2m-send", f"tcp://127.0.0.1:{port}", "--framing", "len:u16be",
            input='{"text":"hi"}\n{"hex":"00ff"}\n')
    assert r.returncode == 0, r.stderr.decode()
    t.join(10)
    assert got == [b"\x00\x02hi\x00\x02\x00\xff"]


def test_udp_datagrams_are_frames_with_raw_framing():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    r = run("m2m-send", f"udp://127.0.0.1:{port}", "--framing", "raw", input='{"text":"one"}\n{"text":"two"}\n')
    assert r.returncode == 0, r.stderr.decode()
    assert [rx.recv(100), rx.recv(100)] == [b"one", b"two"]


def test_reply_polls_a_device_and_prints_each_answer(tmp_path, procs):
    """A device answering each line: m2m-send --reply prints the answers as records, each with
    reply_to (the request's line); a request with no answer is named and makes the run exit 124."""
    dev = str(tmp_path / "dev")
    device_script = (
        "import os,sys,tty\n"
        "fd=os.open(sys.argv[1],os.O_RDWR|os.O_NOCTTY); tty.setraw(fd, tty.TCSANOW); buf=b''\n"
        "while True:\n"
        "  b=os.read(fd,100)\n"
        "  if not b: break\n"
        "  buf+=b\n"
        "  while b'\\n' in buf:\n"
        "    line,buf=buf.split(b'\\n',1)\n"
        "    if line!=b'SILENT': os.write(fd,b'ECHO '+line+b'\\n')\n")
    owner = procs("m2m-send", f"pty:{dev}", "--reply", "--reply-timeout", "2s", "--stats",
                  stdin=as_file(tmp_path, '{"text":"A"}\n{"text":"SILENT"}\n{"text":"B"}\n'))
    owner.wait_stderr("pty device at")  # "A" waits in the device's input until it opens
    device = subprocess.Popen(["/usr/bin/python3", "-c", device_script, dev])
    try:
        code, out, err = owner.finish()
    finally:
        device.kill()
    # the silent request is named, the next one still goes, and the run fails with 124
    assert code == 124, err.decode()
    recs = records(out)
    assert [(r["text"], r["reply_to"]) for r in recs] == [("ECHO A", 1), ("ECHO B", 3)]
    st = stats_of(err)
    assert (st["frames_out"], st["replies"], st["reply_timeouts"]) == (3, 2, 1)
    assert "line 2: no reply within 2s" in err.decode()
    assert "1 of 3 request(s) failed" in err.decode()


def test_user_fields_and_binary_survive_a_file_round_trip(tmp_path):
    cap = tmp_path / "cap.bin"
    r = run("m2m-send", f"file:{cap}", "--framing", "cobs",
            input='{"b64":"AAECAwD/","dev":"x"}\n{"json":{"t":21.5}}\n')
    assert r.returncode == 0
    r = run("m2m-listen", f"file:{cap}", "--framing", "cobs", "--payload", "b64")
    assert [x["b64"] for x in records(r.stdout)] == ["AAECAwD/", "eyJ0IjoyMS41fQ=="]


def test_formats_hex_raw_and_human(tmp_path):
    f = tmp_path / "in.bin"
    f.write_bytes(b"hello\n\x00\x01\x02\n")
    hexed = run("m2m-listen", f"file:{f}", "--format", "hex")
    assert hexed.stdout == b"68656c6c6f\n000102\n"
    raw = run("m2m-listen", f"file:{f}", "--format", "raw")
    assert raw.stdout == b"hello\n\x00\x01\x02\n"
    human = run("m2m-listen", f"file:{f}", "--format", "human", "--ts", "rel", "--color", "never")
    lines = human.stdout.decode().splitlines()
    assert lines[0].startswith("+0.000000  file:") and lines[0].endswith("rx  hello")
    assert lines[1].endswith("rx  3 bytes")
    assert lines[2].strip().startswith("0000  00 01 02")
    colored = run("m2m-listen", f"file:{f}", "--format", "human", "--color", "always")
    assert b"\x1b[" in colored.stdout
    nocolor = run("m2m-listen", f"file:{f}", "--format", "human", "--color", "auto", env={"NO_COLOR": "1"})
    assert b"\x1b[" not in nocolor.stdout


def test_human_view_on_a_terminal_escapes_control_bytes(tmp_path):
    """stdout a real terminal (a pty): human view by default, colour on, no raw control bytes
    even when a payload forced to text carries them."""
    import pty
    f = tmp_path / "in.bin"
    f.write_bytes(b"bell\x07here\n")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(tool("m2m-listen"), [tool("m2m-listen"), f"file:{f}", "--payload", "text"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    assert b"bell\\x07here" in out
    assert b"\x07" not in out
    assert b"\x1b[" in out


def test_list_prints_ports_or_says_there_are_none():
    r = run("m2m-listen", "--list")
    assert r.returncode == 0
    for rec in records(r.stdout):
        assert rec["src"].startswith("serial:") and "port" in rec
    if not r.stdout:
        assert "no serial ports found" in r.stderr.decode()


def test_options_from_config_file_and_environment(tmp_path):
    f = tmp_path / "in.bin"
    f.write_bytes(b"\xc0a\xc0\xc0b\xc0\xc0c\xc0")
    cfg = tmp_path / "m2m.conf"
    cfg.write_text("framing = slip\ncount = 3\n")
    r = run("m2m-listen", f"file:{f}", "--config", str(cfg))
    assert [x["text"] for x in records(r.stdout)] == ["a", "b", "c"]
    r = run("m2m-listen", f"file:{f}", "--config", str(cfg), env={"M2MKIT_COUNT": "1"})
    assert [x["text"] for x in records(r.stdout)] == ["a"]
    r = run("m2m-listen", f"file:{f}", "--config", str(cfg), "-C", "2", env={"M2MKIT_COUNT": "1"})
    assert [x["text"] for x in records(r.stdout)] == ["a", "b"]


def test_version_names_the_libraries():
    r = run("m2m-listen", "--version")
    assert r.returncode == 0
    out = r.stdout.decode()
    assert out.startswith("m2m-listen 0.") and "libserialport 0.1" in out


def test_send_count_raw_lines_and_interval(tmp_path):
    out = tmp_path / "out.bin"
    r = run("m2m-send", f"file:{out}", "--raw", "-C", "2", "--framing", "len:u8", "--stats", input="a\nbb\nccc\n")
    assert r.returncode == 0
    assert out.read_bytes() == b"\x01a\x02bb"
    assert stats_of(r.stderr)["frames_out"] == 2
    import time
    t0 = time.monotonic()
    r = run("m2m-send", f"file:{out}", "--raw", "--interval", "100ms", input="a\nb\nc\n")
    assert r.returncode == 0 and out.read_bytes() == b"a\nb\nc\n"
    assert time.monotonic() - t0 >= 0.2  # two pauses between three frames


def test_a_serial_device_has_one_user_unless_no_lock(tmp_path, procs):
    """Three m2m-listen on one device split its bytes between them; now the first takes it (flock,
    as tio and picocom) and a second opener gets exit 4 naming the holder. --no-lock shares."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        first = procs("m2m-listen", f"serial:{path}", "--format", "raw")
        os.write(master, b"one\n")
        first.read_until(lambda out: out == b"one\n")  # open, configured and reading
        r = run("m2m-listen", f"serial:{path}", "-W", "5s")
        assert r.returncode == 4, r.stderr.decode()
        assert f"serial:{path} is in use by PID {first.p.pid} (m2m-listen); --no-lock shares it" in r.stderr.decode()
        r = run("m2m-send", f"serial:{path}", "--raw", input="x\n")
        assert r.returncode == 4 and f"PID {first.p.pid}" in r.stderr.decode()
        # --no-lock: the second opener is let in (and writes to the device)
        r = run("m2m-send", f"serial:{path}", "--raw", "--no-lock", input="shared\n")
        assert r.returncode == 0, r.stderr.decode()
        got = b""
        while b"shared\n" not in got:  # after the echo of "one" the pty made before it went raw
            assert select.select([master], [], [], 30)[0], f"the device got only {got!r}"
            chunk = os.read(master, 100)
            got += chunk
        first.p.send_signal(2)
        assert first.p.wait(timeout=30) == 130
        # once the holder is gone, the device is free again
        r = run("m2m-send", f"serial:{path}", "--raw", input="free\n")
        assert r.returncode == 0, r.stderr.decode()
    finally:
        os.close(master)
        os.close(slave)
