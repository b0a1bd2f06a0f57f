"""The --persist journal, crashed at every write boundary and filled to the last byte.

iot-pub is run under strace, which kills it (SIGKILL) at the Nth write, ftruncate, rename or
fdatasync, for every N the run makes. After each crash the journal is read as iot-pub will read
it (whole records up to the first damaged one); iot-pub is then started again on the same
directory with no input. Every message the journal held as not done must reach the subscriber,
and nothing may arrive that was never an input line (no torn, glued or invented message).
A second test runs the journal on a 64 KiB tmpfs that fills up mid-run."""
import base64
import json
import os
import re
import shutil
import subprocess
import threading
import time
import zlib

import pytest
from conftest import tool
from mqtt_broker import Broker

# LeakSanitizer cannot run under ptrace (strace): in the ASan build the traced runs would fail at exit
# for that alone. Leaks are checked by every other test.
os.environ["ASAN_OPTIONS"] = ":".join(x for x in [os.environ.get("ASAN_OPTIONS", ""), "detect_leaks=0"] if x)

LINES = 12


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


class Subscriber:
    """mosquitto_sub on crash/# at QoS 1 (an independent peer), collecting 'topic payload' lines."""

    def __init__(self, broker):
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "crash/ready", "-m", "probe", "-r"],
                       check=True)
        self.p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                   "-t", "crash/#", "-F", "%t %p"], stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True)
        self.got = []
        self.cond = threading.Condition()
        assert self.p.stdout.readline() == "crash/ready probe\n", "mosquitto_sub did not subscribe"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cond:
                self.got.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, wanted, timeout=20):
        """Waits until every 'topic payload' in `wanted` has arrived; returns what arrived."""
        with self.cond:
            ok = self.cond.wait_for(lambda: wanted <= set(self.got), timeout)
            assert ok, f"never delivered: {sorted(wanted - set(self.got))}"
            return list(self.got)

    def stop(self):
        self.p.kill()
        self.p.wait()


def read_journal(path):
    """The messages DIR/journal holds as not done, read as iot-pub reads it: '#' length, CRC-32,
    body, newline; stops at the first damaged record (a torn tail)."""
    data = path.read_bytes() if path.exists() else b""
    msgs, done, at = {}, set(), 0
    while at < len(data):
        m = re.match(rb"#([0-9a-f]{8}) ([0-9a-f]{8}) ", data[at:at + 19])
        if not m:
            break
        n, crc = int(m[1], 16), int(m[2], 16)
        body = data[at + 19:at + 19 + n]
        if len(body) < n or data[at + 19 + n:at + 20 + n] != b"\n" or zlib.crc32(body) != crc:
            break
        at += 20 + n
        if body.startswith(b"D"):
            done.update(int(x) for x in body[1:].split())
        elif body.startswith(b"M"):
            j = json.loads(body[1:])
            msgs[j["id"]] = f"{j['topic']} {base64.b64decode(j['b64']).decode()}"
    return {v for k, v in msgs.items() if k not in done}


def iot_pub(broker, store, topic, stdin, strace=None):
    cmd = [tool("iot-pub"), broker.url, "-t", topic, "-q", "1", "-l", "--persist", str(store), "--max-inflight",
           "4"]
    if strace:
        cmd = ["strace", "-f", "-qq", "-o", os.devnull, *strace, *cmd]
    return subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=60)


def syscalls_made(broker, tmp_path, names):
    """How often a clean run makes each of `names` (strace's own count)."""
    store, lines = tmp_path / "count-store", tmp_path / "count-lines"
    lines.write_text("".join(f"x{i}\n" for i in range(LINES)))
    log = tmp_path / "count.trace"
    with open(lines) as f:
        cmd = ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(names), tool("iot-pub"), broker.url,
               "-t", "crash/count", "-q", "1", "-l", "--persist", str(store), "--max-inflight", "4"]
        assert subprocess.run(cmd, stdin=f, capture_output=True, timeout=60).returncode == 0
    calls = re.findall(r"^\d+\s+(\w+)\(", log.read_text(), re.M)
    return {n: calls.count(n) for n in names}


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (Debian package strace)")
def test_killed_at_every_write_boundary_loses_nothing_journaled(broker, tmp_path):
    sub = Subscriber(broker)
    try:
        counts = syscalls_made(broker, tmp_path, ["write", "ftruncate", "rename", "fdatasync"])
        assert counts["write"] >= LINES and counts["rename"] >= 1 and counts["fdatasync"] >= 1, counts
        crash_points = killed = recovered = 0
        for name, count in counts.items():
            for n in range(1, count + 2):  # one past the last: a run the crash never reaches
                topic = f"crash/{name}/{n}"
                lines = [f"{name}-{n}-{i}" for i in range(LINES)]
                inputs = {f"{topic} {line}" for line in lines}
                store = tmp_path / f"store-{name}-{n}"
                infile = tmp_path / f"in-{name}-{n}"
                infile.write_text("".join(line + "\n" for line in lines))
                with open(infile) as f:
                    r = iot_pub(broker, store, topic, f, ["-e", f"trace={name}",
                                                          "-e", f"inject={name}:signal=KILL:when={n}"])
                crash_points += 1
                assert r.returncode in (0, -9, 137), r.stderr.decode()
                killed += r.returncode != 0
                journaled = read_journal(store / "journal")
                assert journaled <= inputs, f"the journal holds what was never read: {journaled - inputs}"
                recovered += len(journaled)
                again = iot_pub(broker, store, topic, subprocess.DEVNULL)
                assert again.returncode == 0, again.stderr.decode()
                got = sub.wait_for(journaled)
                mine = {g for g in got if g.startswith(topic + " ")}
                assert mine <= inputs, f"delivered but never read: {mine - inputs}"
                assert read_journal(store / "journal") == set(), "the restart left messages not done"
        # crashes happened, and some left messages that only the restart sent. How many of the
        # points a run reaches depends on timing (a loaded machine batches more lines per write
        # and fdatasync than the counting run did), so the count is not asserted: under ctest -j
        # 26 of 31 points were reached where "all but one per call" was expected
        assert killed > 0, (killed, crash_points)
        assert recovered > 0
        print(f"crash points: {crash_points} ({counts}); messages recovered from journals: {recovered}")
    finally:
        sub.stop()


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs mounted on a folder of this test's own (root only)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_counts_what_was_not_journaled_and_loses_nothing_sent(broker, tmp_path, small_fs):
    """500 messages of ~500 bytes journaled on a 64 KiB filesystem: the disk fills, iot-pub says so,
    counts every message it could not journal (journal_unwritten), still publishes all of them,
    and empties the journal at the end, so the full disk is free again."""
    sub = Subscriber(broker)
    try:
        lines = [f"full-{i:04d}-" + "x" * 480 for i in range(500)]
        infile = tmp_path / "in-full"
        infile.write_text("".join(line + "\n" for line in lines))
        with open(infile) as f:
            r = subprocess.run([tool("iot-pub"), broker.url, "-t", "crash/full", "-q", "1", "-l", "--persist",
                                str(small_fs), "--stats"], stdin=f, capture_output=True, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 0, err
        assert "cannot write the journal: No space left on device" in err
        stats = json.loads(err.split(": stats: ", 1)[1].splitlines()[0])
        assert 0 < stats["drops"]["journal_unwritten"] < 500, stats
        sub.wait_for({f"crash/full {line}" for line in lines})
        assert (small_fs / "journal").stat().st_size == 0
    finally:
        sub.stop()
