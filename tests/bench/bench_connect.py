"""Connections opened per second from one process (#17, #18): loadgen itself (--devices N, every
device connecting as fast as it can) against Paho's async client opening N connections from one
process (bench_connect, built from bench_connect.cpp against libpaho-mqtt-dev). Both are timed the
same way, from the first connect to the last CONNACK (loadgen's summary, the anchor's own clock),
each run against a fresh mosquitto; a connection that failed is a loss, not a rate. Peak RSS of
both processes from GNU time. Usage: bench_connect.py TOOLS_DIR SCALE BENCH_CONNECT (bench_fleet's Mosquitto reads the scale
from the same place)"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Sample, Spawned, compare  # noqa: E402
from bench_fleet import Mosquitto  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2])
paho = sys.argv[3]
LIMIT = ["prlimit", "--nofile=20000:20000"]


def ours(d, n):
    b = Mosquitto(d)
    out = Path(d) / f"lg-{time.monotonic_ns()}.json"
    try:
        rc, kb = Spawned(LIMIT + [f"{tools}/loadgen", f"mqtt://127.0.0.1:{b.port}", "--devices", str(n),
                                  "-C", "1", "--connect-rate", "1000000", "--no-sub", "--json", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait(300)
    finally:
        b.stop()
    c = json.loads(out.read_text())["connects"]
    return Sample(c["ok"] / c["seconds"], lost=n - c["ok"], rss_kb=kb, expected=n)


def anchor(d, n):
    b = Mosquitto(d)
    out = Path(d) / f"paho-{time.monotonic_ns()}.txt"
    try:
        with open(out, "w") as f:
            rc, kb = Spawned(LIMIT + [paho, str(b.port), str(n)], stdout=f,
                             stderr=subprocess.DEVNULL).wait(300)
    finally:
        b.stop()
    ok, seconds = out.read_text().split()
    return Sample(int(ok) / float(seconds), lost=n - int(ok), rss_kb=kb, expected=n)


def main():
    with tempfile.TemporaryDirectory() as d:
        for n in (max(500, int(2000 * scale)), max(1000, int(10000 * scale))):
            compare(f"connections opened, {n:,} from one process", "conn/s", lambda: ours(d, n),
                    lambda: anchor(d, n), "Paho MQTTAsync (bench_connect)")


if __name__ == "__main__":
    main()
