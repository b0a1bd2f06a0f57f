"""m2m-send -> m2m-listen over real pty pairs, for every framing, in both directions."""
import json
import random

import pytest

from conftest import as_file, records, run, stats_of

N = 10_000

FRAMINGS = {
    # framing: (bytes a payload must avoid, min length, max length)
    "line": (b"\n", 0, 64),
    "crlf": (b"\r\n", 0, 64),
    "cr": (b"\r", 0, 64),
    "slip": (b"", 1, 64),
    "cobs": (b"", 0, 64),
    "len:u8": (b"", 0, 64),
    "len:u16be": (b"", 0, 300),
    "len:u16le": (b"", 0, 64),
    "len:u32be": (b"", 0, 64),
    "len:u32le": (b"", 0, 64),
    "fixed:16": (b"", 16, 16),
}
SPECIALS = bytes([0x00, 0xC0, 0xDB, 0xDC, 0xDD, 0x0A, 0x0D, 0xFF])


def payloads(framing, n, seed):
    avoid, lo, hi = FRAMINGS[framing]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = bytearray()
        for _ in range(rng.randint(lo, hi)):
            p.append(rng.choice(SPECIALS) if rng.random() < 0.25 else rng.randrange(256))
        if framing == "crlf":
            p = p.replace(b"\r\n", b"")
            while len(p) > 0 and p.endswith(b"\r"):
                p = p[:-1]
        else:
            p = bytes(b for b in p if b not in avoid)
        out.append(bytes(p))
    return out


def feed(ps):
    return "".join(json.dumps({"hex": p.hex()}) + "\n" for p in ps)


@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_listener_owns_pty(framing, tmp_path, procs):
    ps = payloads(framing, N, framing)
    dev = str(tmp_path / "dev")
    listener = procs("m2m-listen", f"pty:{dev}", "--framing", framing, "--payload", "hex", "-C", str(N), "--stats")
    listener.wait_stderr("pty device at")
    sender = procs("m2m-send", f"serial:{dev}", "--framing", framing, "--stats", stdin=as_file(tmp_path, feed(ps)))
    code, out, err = listener.finish()  # reads the listener's output while the sender writes
    sent_code, _, sent_err = sender.finish()
    assert sent_code == 0, sent_err.decode()
    assert stats_of(sent_err)["frames_out"] == N
    assert code == 0, err.decode()
    got = records(out)
    assert [bytes.fromhex(r["hex"]) for r in got] == ps
    assert [r["seq"] for r in got] == list(range(1, N + 1))
    assert all(r["dir"] == "rx" and r["src"] == f"pty:{dev}" for r in got)
    assert stats_of(err)["drops"] == {}


@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_sender_owns_pty(framing, tmp_path, procs):
    ps = payloads(framing, N, framing + "-b")
    dev = str(tmp_path / "dev")
    sender = procs("m2m-send", f"pty:{dev}", "--framing", framing, stdin=as_file(tmp_path, feed(ps)))
    sender.wait_stderr("pty device at")
    got = run("m2m-listen", f"serial:{dev}", "--framing", framing, "--payload", "hex", "-C", str(N))
    assert got.returncode == 0, got.stderr.decode()
    assert [bytes.fromhex(r["hex"]) for r in records(got.stdout)] == ps
    code, _, err = sender.finish()
    assert code == 0, err.decode()


def test_idle_framing_cuts_on_silence(tmp_path, procs):
    """Frames 40 ms apart, cut at 10 ms of silence. A reader stalled longer than the gap (a loaded
    CI machine) sees two frames as one burst, so the check is: every byte arrives, every cut falls
    on a frame boundary, and nearly every boundary is found."""
    ps = payloads("len:u8", 100, "idle")
    ps = [p or b"x" for p in ps]
    expected = b"".join(ps)
    dev = str(tmp_path / "dev")
    listener = procs("m2m-listen", f"pty:{dev}", "--framing", "idle:10", "--payload", "hex")
    listener.wait_stderr("pty device at")
    sent = run("m2m-send", f"serial:{dev}", "--framing", "idle:10", "--interval", "40ms", input=feed(ps))
    assert sent.returncode == 0, sent.stderr.decode()  # 100 short records: the listener's pipe holds them

    def total(out):
        return sum(len(r["hex"]) // 2 for r in records(out[: out.rfind(b"\n") + 1]))

    listener.read_until(lambda out: total(out) >= len(expected))
    code, out, _ = listener.interrupt()
    assert code == 130
    got = [bytes.fromhex(r["hex"]) for r in records(out)]
    assert b"".join(got) == expected
    boundaries, at = set(), 0
    for p in ps:
        at += len(p)
        boundaries.add(at)
    at = 0
    for g in got:
        at += len(g)
        assert at in boundaries, f"a cut inside a frame, at byte {at}"
    assert len(got) >= 90, f"only {len(got)} of 100 silences seen"


def test_raw_framing_keeps_every_byte(tmp_path, procs):
    ps = payloads("len:u16le", N, "raw")
    expected = b"".join(ps)
    dev = str(tmp_path / "dev")
    listener = procs("m2m-listen", f"pty:{dev}", "--framing", "raw", "--payload", "hex")
    listener.wait_stderr("pty device at")
    sender = procs("m2m-send", f"serial:{dev}", "--framing", "raw", stdin=as_file(tmp_path, feed(ps)))

    def total(out):
        return sum(len(r["hex"]) // 2 for r in records(out[: out.rfind(b"\n") + 1]))

    listener.read_until(lambda out: total(out) >= len(expected))
    code, out, _ = listener.interrupt()
    assert code == 130
    assert sender.finish()[0] == 0
    assert b"".join(bytes.fromhex(r["hex"]) for r in records(out)) == expected
