"""Links come back: a pty closed and a new one at the same path, a TCP peer restarted."""
import socket
import subprocess

from conftest import records, stats_of


def test_listener_reconnects_when_a_new_pty_appears_at_the_same_path(tmp_path, procs):
    dev = str(tmp_path / "dev")
    first = procs("m2m-send", f"pty:{dev}", stdin=subprocess.PIPE)
    first.wait_stderr("pty device at")
    listener = procs("m2m-listen", f"serial:{dev}", "-C", "2", "--stats")
    first.p.stdin.write(b'{"text":"before"}\n')
    first.p.stdin.flush()
    listener.read_until(lambda out: b'"before"' in out)
    first.p.stdin.close()
    assert first.p.wait(timeout=20) == 0  # the device goes away
    listener.wait_stderr("lost")
    second = procs("m2m-send", f"pty:{dev}", stdin=subprocess.PIPE)
    second.p.stdin.write(b'{"text":"after"}\n')
    second.p.stdin.close()
    code, out, err = listener.finish()
    assert code == 0, err.decode()
    assert [r["text"] for r in records(out)] == ["before", "after"]
    assert [r["seq"] for r in records(out)] == [1, 2]
    assert stats_of(err)["reconnects"] == 1
    assert f"link serial:{dev} is back" in err.decode()
    assert second.p.wait(timeout=20) == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_listener_serves_one_peer_after_another(procs):
    port = free_port()
    listener = procs("m2m-listen", f"tcp-listen://127.0.0.1:{port}", "--framing", "slip", "-C", "2", "--verbose")
    listener.wait_stderr("listening")
    for word in [b"first", b"second"]:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"\xc0" + word + b"\xc0")
        listener.read_until(lambda out, w=word: w in out)
        c.close()
    code, out, err = listener.finish()
    assert code == 0, err.decode()
    assert [r["text"] for r in records(out)] == ["first", "second"]


def test_sender_reconnects_and_goes_on_when_the_device_comes_back(tmp_path, procs):
    dev = str(tmp_path / "dev")
    first = procs("m2m-listen", f"pty:{dev}", "-C", "1")
    first.wait_stderr("pty device at")
    sender = procs("m2m-send", f"serial:{dev}", "--stats", stdin=subprocess.PIPE)
    sender.p.stdin.write(b'{"text":"one"}\n')
    sender.p.stdin.flush()
    code, out, _ = first.finish()  # takes one frame and goes away with its pty
    assert code == 0 and [r["text"] for r in records(out)] == ["one"]
    sender.wait_stderr("lost")
    second = procs("m2m-listen", f"pty:{dev}", "-C", "2")
    second.wait_stderr("pty device at")
    sender.p.stdin.write(b'{"text":"two"}\n{"text":"three"}\n')
    sender.p.stdin.close()
    code, out, err = second.finish()
    assert code == 0, err.decode()
    assert [r["text"] for r in records(out)] == ["two", "three"]
    assert sender.p.wait(timeout=20) == 0
    st = stats_of(sender.p.stderr.read())
    assert (st["frames_out"], st["reconnects"]) == (3, 1)
