"""MQTT publish throughput (#18): `iot-pub -l` against `mosquitto_pub -l` on the same broker, the
same lines, the same window (mosquitto_pub -M and iot-pub --max-inflight: 100 at QoS 1, 20 at
QoS 2, where mosquitto 2.0 drops what is beyond its max_inflight_messages, 20), each timed from its process's start until a live mosquitto_sub has counted
every message (an iot-sub, the same for both: mosquitto_sub prints ~110k/s here, below what both
publishers deliver at QoS 0); a side that lost messages is reported as a loss. The ceiling: the
same iot-pub into the broker with no subscriber (from start to exit; at QoS 1 and 2 that is every
message acknowledged). Alternating runs, medians.
Usage: bench_mqtt.py TOOLS_DIR [SCALE]"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from benchlib import Sample, Spawned, Subscriber, alternate, row  # noqa: E402
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
WINDOW = {0: "100", 1: "100", 2: "20"}


def delivered(port, argv_for, n, qos, lines_file):
    topic = f"bench/mqtt/{time.monotonic_ns()}"
    sub = Subscriber(port, topic, qos, iot_sub=f"{tools}/iot-sub")
    try:
        with open(lines_file, "rb") as f:
            t0 = time.perf_counter()
            p = Spawned(argv_for(topic), stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _, kb = p.wait(max(60, n / 1000))
            except TimeoutError:  # a publisher that stalls: what it delivered is counted, the rest lost
                kb = None
        got = sub.wait_for(n, 10)  # all, or 10 s with nothing more arriving
        dt = time.perf_counter() - t0
    finally:
        sub.stop()
    return Sample(got / dt, lost=n - got, rss_kb=kb, expected=n)


def intake(port, qos, n, lines_file):
    """iot-pub -l into the broker with nobody subscribed: msg/s from its start to its exit."""
    with open(lines_file, "rb") as f:
        t0 = time.perf_counter()
        subprocess.run([f"{tools}/iot-pub", "-p", str(port), "-l", "-t", "bench/nobody", "-q", str(qos),
                        "--max-inflight", WINDOW[qos]], stdin=f, check=True, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return n / (time.perf_counter() - t0)


def main():
    with tempfile.TemporaryDirectory() as d:
        b = Broker(Path(d)).start()
        port = str(b.port)
        try:
            for qos, n in [(0, 1_000_000), (1, 200_000), (2, 100_000)]:
                n = max(1000, int(n * scale))
                lines = Path(d) / f"lines-{n}"
                lines.write_text("".join(f"message {i:08d} payload\n" for i in range(n)))
                ours, theirs = alternate(
                    lambda: delivered(b.port, lambda t: [f"{tools}/iot-pub", "-p", port, "-l", "-t", t, "-q", str(qos),
                                                         "--max-inflight", WINDOW[qos]], n, qos, lines),
                    lambda: delivered(b.port, lambda t: ["mosquitto_pub", "-p", port, "-l", "-t", t, "-q", str(qos),
                                                         "-M", WINDOW[qos]], n, qos, lines))
                ceiling = statistics.median(intake(b.port, qos, n, lines) for _ in range(3))
                row(f"publish -l, QoS {qos}, {n:,} messages", "msg/s", ours, theirs, "mosquitto_pub -l", ceiling=ceiling)
        finally:
            b.stop()


main()
