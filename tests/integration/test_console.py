"""The field console (m2m-listen -I) driven as a person would: in a real terminal (tmux), typing
with send-keys and reading the screen with capture-pane. Also the line controls on ptys, --log and
--records."""
import fcntl
import json
import os
import select
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import as_file, records, run, tool

FIXTURES = os.path.join(os.path.dirname(__file__), "../../fixtures")
AT_MODEM = os.path.join(FIXTURES, "devices/at_modem.py")


def wait(cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Screen:
    """A terminal (tmux, on a server of its own) running `command` through sh."""

    def __init__(self, command, width=132, height=50):
        self.sock = f"m2m-test-{uuid.uuid4().hex[:12]}"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t",
                  command)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=20)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def text(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait_for(self, needle, count=1, timeout=15):
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            assert time.monotonic() < deadline, f"timed out waiting for {needle!r}; the screen:\n{self.text()}"
            time.sleep(0.02)

    def close(self):
        self.tmux("kill-server")


@pytest.fixture
def screens():
    made = []

    def make(command, **kw):
        s = Screen(command, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def modem(tmp_path):
    """The simulated AT modem, started on a pty path once the console has created it."""
    started = []

    def start(path):
        wait(lambda: os.path.islink(path), f"the pty at {path}")
        p = subprocess.Popen([sys.executable, AT_MODEM, path])
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()


def console_script(tmp_path, listen_args):
    """A shell script for the terminal: the terminal state before, the console (its PID kept), its
    exit status and the terminal state after."""
    d = tmp_path
    cmd = " ".join(shlex.quote(a) for a in [tool("m2m-listen"), *listen_args])
    os.mkfifo(d / "exit")
    return (f"stty -a > {d}/stty.before; sh -c 'echo $$ > {d}/pid; exec {cmd}'; code=$?; "
            f"stty -a > {d}/stty.after; echo $code > {d}/exit")


def exit_of(tmp_path, timeout=15):
    """The console's exit status, told through a FIFO once the terminal state after it is saved."""
    fd = os.open(tmp_path / "exit", os.O_RDWR | os.O_NONBLOCK)  # our own writer end: select waits for data
    try:
        got = b""
        deadline = time.monotonic() + timeout
        while not got.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for the console to end"
            if select.select([fd], [], [], left)[0]:
                got += os.read(fd, 16)
        return int(got)
    finally:
        os.close(fd)


def start_console(screens, modem, tmp_path, *args):
    """The console on a pty the simulated modem opens, once its banner is on screen."""
    path = str(tmp_path / "modem")
    scr = screens(console_script(tmp_path, ["-I", f"pty:{path}", "--framing", "at", *args]))
    modem(path)
    scr.wait_for("Ctrl-T ? for the menu")
    return scr


def record_lines(screen_text):
    return [line.rstrip() for line in screen_text.splitlines() if line.startswith("20")]


def test_console_talks_to_the_at_modem_and_restores_the_terminal(tmp_path, screens, modem):
    log = tmp_path / "console.jsonl"
    scr = start_console(screens, modem, tmp_path, "--log", str(log))
    scr.type("AT")
    scr.keys("Enter")
    scr.wait_for("rx  OK")
    screen = scr.text()
    assert "tx  AT" in screen  # what was sent, told apart from what came back
    # the menu key toggles the hex view: the next reply is a hexdump
    scr.keys("C-t", "x")
    scr.wait_for("hex view on")
    scr.type("AT+CSQ")
    scr.keys("Enter")
    scr.wait_for("|OK|")
    assert "2b 43 53 51 3a 20 31 37  2c 39 39" in scr.text()  # "+CSQ: 17,99"
    # line editing: a typo fixed with backspace, history recalls a line
    scr.type("ATX")
    scr.keys("BSpace", "I", "Enter")
    scr.wait_for("|m2mkit simulate")
    scr.keys("C-t", "x")
    scr.wait_for("hex view off")
    scr.keys("Up", "Enter")
    scr.wait_for("rx  OK", count=2)
    scr.keys("C-t", "q")
    assert exit_of(tmp_path) == 0
    assert (tmp_path / "stty.before").read_text() == (tmp_path / "stty.after").read_text()
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    sent = [r["text"] for r in logged if r["dir"] == "tx"]
    got = [r["text"] for r in logged if r["dir"] == "rx"]
    assert sent == ["AT", "AT+CSQ", "ATI", "ATI"]
    assert "OK" in got and "+CSQ: 17,99" in got
    assert [r["seq"] for r in logged] == list(range(1, len(logged) + 1))


def test_records_show_the_screen_the_live_session_showed(tmp_path, screens, modem):
    log = tmp_path / "console.jsonl"
    scr = start_console(screens, modem, tmp_path, "--log", str(log))
    for cmd in ["AT", "ATI", "AT+CSQ"]:
        scr.type(cmd)
        scr.keys("Enter")
    scr.wait_for("+CSQ: 17,99")
    scr.wait_for("rx  OK", count=3)
    live = record_lines(scr.text())
    scr.keys("C-t", "q")
    assert exit_of(tmp_path) == 0
    again = run("m2m-listen", "--records", str(log), "--format", "human", "--color", "never")
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode().splitlines() == live
    # the same through stdin, as JSON Lines: every record as it was logged, seq kept
    piped = run("m2m-listen", "--records", "-", input=log.read_bytes())
    assert records(piped.stdout) == [json.loads(line) for line in log.read_text().splitlines()]


def test_sigterm_gives_the_terminal_back(tmp_path, screens, modem):
    scr = start_console(screens, modem, tmp_path)
    scr.type("AT")  # half a line typed when the signal comes
    scr.wait_for("> AT")
    os.kill(int((tmp_path / "pid").read_text()), 15)
    assert exit_of(tmp_path) == 130
    assert (tmp_path / "stty.before").read_text() == (tmp_path / "stty.after").read_text()


def test_keys_mode_sends_each_keystroke_and_the_menu_key_twice_sends_it(tmp_path, screens):
    path = str(tmp_path / "dev")
    scr = screens(console_script(tmp_path, ["-I", "--keys", f"pty:{path}"]))
    wait(lambda: os.path.islink(path), "the pty")
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        import tty
        tty.setraw(fd)
        scr.wait_for("keys sent as typed")
        scr.type("ab")
        scr.keys("C-t", "C-t", "C-c")  # Ctrl-C goes to the device in --keys mode, as tio does
        got = b""
        deadline = time.monotonic() + 10
        while len(got) < 4 and time.monotonic() < deadline:
            got += os.read(fd, 64)
        assert got == b"ab\x14\x03"
        os.write(fd, b"hello\n")
        scr.wait_for("rx  hello")
        assert "tx" not in "".join(record_lines(scr.text()))  # local echo is off with --keys
        scr.keys("C-t", "e")
        scr.wait_for("local echo on")
        scr.type("z")
        scr.wait_for("tx  z")
        scr.keys("C-t", "q")
        assert exit_of(tmp_path) == 0
    finally:
        os.close(fd)


def test_menu_on_a_pty_says_what_it_cannot_do(tmp_path, screens, modem):
    scr = start_console(screens, modem, tmp_path)
    scr.keys("C-t", "?")
    scr.wait_for("Ctrl-T q  quit")
    scr.keys("C-t", "d")
    scr.wait_for("has no modem lines")
    scr.keys("C-t", "B")
    scr.wait_for("baud>")
    scr.type("74880")
    scr.keys("Enter")
    scr.wait_for("-- baud 74880")
    scr.keys("C-t", "l")
    scr.wait_for("baud 74880, no modem lines")
    scr.keys("C-t", "t")
    scr.wait_for("timestamps in local time")
    scr.keys("C-t", "Z")
    scr.wait_for("no menu command 'Z'")
    scr.keys("C-t", "q")
    assert exit_of(tmp_path) == 0


def test_console_goes_on_when_the_device_goes_and_comes_back(tmp_path, screens):
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    got = []

    def device():
        c, _ = srv.accept()
        c.sendall(b"first\n")
        c.recv(64)  # "unplugged" once the console has sent something
        c.close()
        c, _ = srv.accept()  # plugged back: the console reconnects by itself
        c.sendall(b"second\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = c.recv(64)
            if not chunk:
                break
            buf += chunk
        got.append(buf)
        c.close()

    t = threading.Thread(target=device, daemon=True)
    t.start()
    scr = screens(console_script(tmp_path, ["-I", f"tcp://127.0.0.1:{port}"]))
    scr.wait_for("rx  first")
    scr.type("bye")
    scr.keys("Enter")
    scr.wait_for("lost")
    scr.wait_for("rx  second")
    scr.wait_for("is back")
    scr.type("still here")
    scr.keys("Enter")
    t.join(15)
    assert got == [b"still here\n"]
    scr.keys("C-t", "q")
    assert exit_of(tmp_path) == 0
    srv.close()


def test_console_needs_a_terminal():
    r = run("m2m-listen", "-I", "pty:")
    assert r.returncode == 2
    assert b"needs a terminal" in r.stderr


# --- line controls on a pty pair ----------------------------------------------------------------

TCGETS2 = 0x802C542A


def ospeed(fd):
    """The rate the line runs at (termios2: 4 flags, c_line, 19 c_cc, c_ispeed, c_ospeed)."""
    buf = fcntl.ioctl(fd, TCGETS2, bytes(44))
    return struct.unpack("4IB19B2I", buf)[-1]


@pytest.mark.parametrize("baud", [74880, 250000, 1000000, 9600])
def test_any_baud_rate_the_driver_accepts(procs, baud):
    master, slave = os.openpty()
    name = os.ttyname(slave)
    try:
        p = procs("m2m-listen", f"serial:{name}?baud={baud}", "--count", "1")
        wait(lambda: ospeed(slave) == baud, f"the line at {baud} baud")
        os.write(master, b"boot log\n")
        code, out, err = p.finish()
        assert code == 0, err
        assert records(out)[0]["text"] == "boot log"
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("query, message", [
    ("rs485=1", b"has no RS-485 mode (TIOCSRS485"),
    ("rs485=1&rts_on_send=0&delay_before=2&delay_after=2", b"has no RS-485 mode"),
    ("reset=dtr:100ms", b"has no modem lines to pulse (reset=dtr:100ms)"),
])
def test_line_controls_a_pty_does_not_have_are_named(query, message):
    master, slave = os.openpty()
    try:
        r = run("m2m-listen", f"serial:{os.ttyname(slave)}?{query}", "--count", "1")
        assert r.returncode == 4, r.stderr
        assert message in r.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_break_then_frames_on_a_serial_line():
    master, slave = os.openpty()
    try:
        r = run("m2m-send", f"serial:{os.ttyname(slave)}", "--break", "20ms", input='{"text":"after"}\n')
        assert r.returncode == 0, r.stderr
        assert os.read(master, 64) == b"after\n"
    finally:
        os.close(master)
        os.close(slave)
    r = run("m2m-send", "file:/dev/null", "--break", "20ms", input='{"text":"x"}\n')
    assert r.returncode == 2 and b"--break needs a serial line" in r.stderr


def test_map_icrnl_turns_a_cr_device_into_lines():
    master, slave = os.openpty()
    try:
        p = subprocess.Popen([tool("m2m-listen"), f"serial:{os.ttyname(slave)}", "--map", "ICRNL,IGNCR", "--count",
                              "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait(lambda: ospeed(slave) == 115200 and p.poll() is None, "the line configured")
            os.write(master, b"one\r\n")  # IGNCR drops the CR, so CR LF is one line end
            os.write(master, b"two\r\n")
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err
        assert [r["text"] for r in records(out)] == ["one", "two"]
    finally:
        os.close(master)
        os.close(slave)


# --- --log on the other readers, replay --format ---------------------------------------------

def test_log_keeps_jsonl_while_stdout_shows_another_view(tmp_path):
    log = tmp_path / "send.jsonl"
    out = tmp_path / "out.bin"
    r = run("m2m-send", f"file:{out}", "--log", str(log), input='{"text":"AT","seq":7}\n{"hex":"0102"}\n')
    assert r.returncode == 0, r.stderr
    logged = records(log.read_bytes())
    assert [(x["dir"], x["seq"]) for x in logged] == [("tx", 7), ("tx", 2)]
    assert logged[1]["hex"] == "0102"
    # appended, never truncated: a second run adds to the log
    run("m2m-send", f"file:{out}", "--log", str(log), input='{"text":"more"}\n')
    assert len(log.read_text().splitlines()) == 3
    bad = run("m2m-send", f"file:{out}", "--log", str(tmp_path / "no/such/dir/x.jsonl"), input="")
    assert bad.returncode == 2 and b"--log" in bad.stderr


def test_replay_format_chooses_the_view(tmp_path):
    capture = os.path.join(FIXTURES, "devices/meter-capture.jsonl")
    hexed = run("replay", capture, "--speed", "0", "--format", "hex")
    want = [json.loads(line) for line in open(capture)]
    assert hexed.stdout.decode().splitlines() == [r["hex"] for r in want]
    human = run("replay", capture, "--speed", "0", "--format", "human", "--color", "never")
    shown = run("m2m-listen", "--records", capture, "--format", "human", "--color", "never")
    assert human.stdout == shown.stdout and human.stdout.startswith(b"2026-11-20T08:00:00.000000Z  serial:")
    plain = run("replay", capture, "--speed", "0")  # a pipe: the records as they were
    assert plain.stdout.decode().splitlines() == open(capture).read().splitlines()


def test_replay_log_holds_every_record_replayed(tmp_path):
    capture = os.path.join(FIXTURES, "devices/meter-capture.jsonl")
    log = tmp_path / "replayed.jsonl"
    r = run("replay", capture, f"file:{tmp_path}/out.bin", "--speed", "0", "--log", str(log))
    assert r.returncode == 0, r.stderr
    assert records(log.read_bytes()) == [json.loads(line) for line in open(capture)]
