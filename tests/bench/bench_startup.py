"""Startup (#18): one message per process, as shell loops call it -- `iot-pub -t T -m hello` against
`mosquitto_pub -t T -m hello`, a whole process each (exec, load, connect, publish, disconnect),
at QoS 0 and 1, timed from process start to its exit; a live subscriber counts what arrived.
Usage: bench_startup.py TOOLS_DIR [SCALE]"""
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from benchlib import Sample, Spawned, Subscriber, compare  # noqa: E402
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
N = max(20, int(200 * scale))  # processes per run


def one_run(port, argv, qos):
    """N processes one after another from one shell loop (a fork of this Python per process costs
    more than the process and swamps the comparison in noise), timed from the loop's start to its
    end; then three more under GNU time for the peak RSS."""
    topic = f"bench/start/{time.monotonic_ns()}"
    sub = Subscriber(port, topic, qos)
    cmd = argv + ["-p", str(port), "-t", topic, "-m", "hello", "-q", str(qos)]
    try:
        loop = f'i=0; while [ $i -lt {N} ]; do {shlex.join(cmd)} || exit 1; i=$((i+1)); done'
        t0 = time.perf_counter()
        subprocess.run(["sh", "-c", loop], check=True, timeout=30 + N)
        dt = time.perf_counter() - t0
        rss = []
        for _ in range(3):
            rc, kb = Spawned(cmd).wait(30)
            rss.append(kb)
        got = sub.wait_for(N + 3, 10)
    finally:
        sub.stop()
    return Sample(dt / N * 1000, lost=N + 3 - got, rss_kb=sorted(rss)[1], expected=N + 3)


def main():
    with tempfile.TemporaryDirectory() as d:
        b = Broker(Path(d)).start()
        try:
            for qos in (0, 1):
                compare(f"one message per process, QoS {qos}", "ms/proc",
                        lambda: one_run(b.port, [f"{tools}/iot-pub"], qos),
                        lambda: one_run(b.port, ["mosquitto_pub"], qos), "mosquitto_pub -m", higher_is_better=False)
        finally:
            b.stop()


if __name__ == "__main__":
    main()
