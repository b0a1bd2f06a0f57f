"""Whole tools on the same bytes against a plain copy with cat (#18): m2m-send over a pipe, and
m2m-listen reading SLIP frames from a pty into JSON Lines against `cat` reading the same pty.
Both sides read by this script as fast as they write, both timed from their process's start to
the last frame or byte, alternating, medians. Every wait has a timeout.
Usage: bench_tools.py TOOLS_DIR [SCALE]"""
import os
import subprocess
import sys
import tempfile
import time
import tty

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Sample, Spawned, alternate, row  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/tools"
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def tool(name):
    return os.path.join(BIN, name)


def pipe_run(argv, src, size, out_lines=None):
    """argv reading src on stdin; MB/s of src from its start until it exits."""
    with open(src, "rb") as f:
        t0 = time.perf_counter()
        p = Spawned(argv, stdin=f, stdout=subprocess.DEVNULL)
        rc, kb = p.wait(300)
        dt = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"{argv} exited {rc}")
    return Sample(size / dt / 1e6, rss_kb=kb)


def pty_run(argv_for, stream, stream_size, frames):
    """A pty pair; the reader (argv_for(slave path)) started, then the SLIP stream written into the
    master by `cat`. The reader's output goes to a C program that reads it as fast as it comes, for
    both sides: m2m-listen's (it ends after -C frames) to `wc -l`, which counts the records; cat's
    (it never ends) to `head -c SIZE`, which ends when every byte came. Timed from the start to the
    end of that last program. (Python read the output here before: ~110 bytes of JSON per 16-byte
    frame through an interpreter on 2 cores measured the interpreter.)"""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    argv = argv_for(path)
    listen = argv[0] != "cat"
    t0 = time.perf_counter()
    p = Spawned(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sink = subprocess.Popen(["wc", "-l"] if listen else ["head", "-c", str(stream_size)], stdin=p.p.stdout,
                            stdout=subprocess.PIPE if listen else subprocess.DEVNULL)
    p.p.stdout.close()  # the sink holds it
    w = subprocess.Popen(["cat", stream], stdout=master)
    try:
        out, _ = sink.communicate(timeout=300)
        dt = time.perf_counter() - t0
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait(timeout=10)
        kb = p.wait(30)[1] if listen else p.stop()  # m2m-listen ends after -C frames
        try:
            w.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(timeout=10)
        os.close(master)
        os.close(slave)
    got = int(out) if listen else frames
    return Sample(stream_size / dt / 1e6, lost=max(0, frames - got), rss_kb=kb, expected=frames)


def main():
    tmp = tempfile.mkdtemp(prefix="m2mkit-bench-")
    records = os.path.join(tmp, "records.jsonl")
    n = max(10000, int(1_000_000 * scale))
    with open(records, "w") as f:
        for i in range(n):
            line = f'{{"ts":"2026-11-21T18:00:00.{i % 1000000:06}Z","seq":{i},"text":"T=21.{i % 10}C P=1.0{i % 7}"}}'
            f.write(line.ljust(69, " ") + "\n")
    size = os.path.getsize(records)
    ours, cat = alternate(lambda: pipe_run([tool("m2m-send"), "file:/dev/null", "--framing", "slip"], records, size),
                          lambda: pipe_run(["cat"], records, size))
    row(f"pipe: {n:,} records -> SLIP (m2m-send)", "MB/s", ours, cat, "cat (a plain copy)",
        ceiling=max(s.value for s in cat))

    for text_len, m in [(16, max(10000, int(1_000_000 * scale))), (200, max(2000, int(100_000 * scale)))]:
        small = os.path.join(tmp, f"frames-{text_len}.jsonl")
        with open(small, "w") as f:
            for i in range(m):
                f.write('{"text":"' + f"{i:08d}".ljust(text_len, "x") + '"}\n')
        stream = os.path.join(tmp, f"stream-{text_len}.slip")
        subprocess.run([tool("m2m-send"), f"file:{stream}", "--framing", "slip"], stdin=open(small), check=True,
                       timeout=300)
        ssize = os.path.getsize(stream)
        for fmt in ("jsonl", "raw"):
            ours, cat = alternate(
                lambda: pty_run(lambda d: [tool("m2m-listen"), f"serial:{d}", "--framing", "slip", "-C", str(m),
                                           "--format", fmt], stream, ssize, m),
                lambda: pty_run(lambda d: ["cat", d], stream, ssize, m))
            row(f"pty: {m:,} {text_len}-byte SLIP frames, m2m-listen {fmt}", "MB/s", ours, cat,
                "cat (a plain pty copy)")
    subprocess.run(["rm", "-rf", tmp], check=True)


main()
