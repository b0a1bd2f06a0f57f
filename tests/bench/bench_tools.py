"""Whole-tool benchmarks against socat and a plain cat pipe, on the same bytes, as ratios.
Bounded: fixed sizes, every process ends by itself (or is ended by its PID on a time limit)."""
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/tools"
RUNS = 3


def tool(name):
    return os.path.join(BIN, name)


def wait_line(proc, needle, limit=10):
    """Reads proc's stderr until a line containing `needle`; returns that line."""
    deadline = time.monotonic() + limit
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
        if not r:
            break
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if needle in line:
                return line
    raise RuntimeError(f"no {needle!r} from {proc.args[0]}: {buf.decode(errors='replace')}")


def timed(fn):
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def shell(cmd):
    subprocess.run(cmd, shell=True, check=True, timeout=300)


def main():
    tmp = tempfile.mkdtemp(prefix="m2mkit-bench-")
    records = os.path.join(tmp, "records.jsonl")
    n = 1_000_000
    with open(records, "w") as f:
        for i in range(n):
            line = f'{{"ts":"2026-11-21T18:00:00.{i % 1000000:06}Z","seq":{i},"text":"T=21.{i % 10}C P=1.0{i % 7}"}}'
            f.write(line.ljust(69, " ") + "\n")
    size = os.path.getsize(records)

    cat = timed(lambda: shell(f"cat {records} | cat > /dev/null"))
    send = timed(lambda: shell(f"cat {records} | {tool('m2m-send')} file:/dev/null --framing slip"))
    print(f"pipe: {n} records, {size / 1e6:.0f} MB")
    print(f"  cat | cat                           {size / cat / 1e6:8.1f} MB/s")
    print(f"  cat | m2m-send --framing slip       {size / send / 1e6:8.1f} MB/s   ratio to cat {cat / send:.3f}")

    for label, m, text_len in [("16-byte", 1_000_000, 16), ("200-byte", 100_000, 200)]:
        pty_bench(tmp, label, m, text_len)
    subprocess.run(["rm", "-rf", tmp])


def pty_bench(tmp, label, m, text_len):
    """m2m-send -> m2m-listen (records out) against socat -> socat moving the same SLIP bytes."""
    small = os.path.join(tmp, f"frames-{text_len}.jsonl")
    with open(small, "w") as f:
        for i in range(m):
            f.write('{"text":"' + f"{i:08d}".ljust(text_len, "x") + '"}\n')
    stream = os.path.join(tmp, f"stream-{text_len}.slip")
    shell(f"{tool('m2m-send')} file:{stream} --framing slip < {small}")
    stream_size = os.path.getsize(stream)
    runs = iter(range(1000))

    def m2m_pty():
        dev = os.path.join(tmp, f"m2m-dev-{text_len}-{next(runs)}")
        listener = subprocess.Popen([tool("m2m-listen"), f"pty:{dev}", "--framing", "slip", "-C", str(m)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_line(listener, "pty device at")
        with open(small) as f:
            subprocess.run([tool("m2m-send"), f"serial:{dev}", "--framing", "slip"], stdin=f, check=True, timeout=300)
        if listener.wait(timeout=300) != 0:
            raise RuntimeError("m2m-listen failed")

    def socat_pty():
        reader = subprocess.Popen(["socat", "-d", "-d", "-u", "-b", "65536", "PTY,rawer", "STDOUT"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dev = wait_line(reader, "PTY is ").rsplit("PTY is ", 1)[1].strip()
        writer = subprocess.Popen(["socat", "-u", "-b", "65536", f"OPEN:{stream}", f"OPEN:{dev},rawer"])
        got = 0
        deadline = time.monotonic() + 300
        while got < stream_size and time.monotonic() < deadline:  # done when every byte has arrived
            chunk = os.read(reader.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            got += len(chunk)
        writer.wait(timeout=60)
        reader.terminate()  # socat keeps its pty open after the writer leaves: end it, by its PID
        reader.wait()
        if got != stream_size:
            raise RuntimeError(f"socat moved {got} of {stream_size} bytes")

    # Both are timed until the last byte (socat) or frame (m2m-listen --count) has arrived.
    t_m2m = timed(m2m_pty)
    t_socat = timed(socat_pty)
    print(f"pty pair, {label} frames: {m} SLIP frames, {stream_size / 1e6:.1f} MB on the wire")
    print(f"  socat -> socat (bytes only)         {stream_size / t_socat / 1e6:8.1f} MB/s")
    print(f"  m2m-send -> m2m-listen (records)    {stream_size / t_m2m / 1e6:8.1f} MB/s   ratio to socat {t_socat / t_m2m:.2f}"
          "   (target >= 1)")


main()
