"""MQTT throughput, side by side with mosquitto_pub/mosquitto_sub on the same broker in the same
run, reported as ratios. Each step is bounded in count and time and stops by itself.
Usage: bench_mqtt.py TOOLS_DIR [SCALE]   (SCALE < 1 shrinks the message counts; BENCH_REPS runs
per case and tool, 3 by default, medians reported)"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
REPS = int(os.environ.get("BENCH_REPS", "3"))  # runs per case and tool; medians are reported


def delivered_rate(broker, publisher_cmd, n, qos, lines_file):
    """Messages/s counted by a mosquitto_sub that must see all n (bounded by a timeout)."""
    topic = f"bench/{time.monotonic_ns()}"
    # mosquitto_sub says nothing when it has subscribed: a retained probe it receives first tells us
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic + "/ready", "-m", "probe", "-r"], check=True)
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", topic, "-t", topic + "/ready", "-q", str(qos),
                            "-C", str(n + 1), "-W", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert sub.stdout.readline() == b"probe\n", "mosquitto_sub did not subscribe"
    # the subscriber's output is read while the publisher runs: a full pipe would stall it, and the
    # broker would queue everything until the publisher is done (measuring its queue, not delivery)
    drain = threading.Thread(target=lambda: [None for _ in iter(lambda: sub.stdout.read(65536), b"")], daemon=True)
    drain.start()
    t0 = time.monotonic()
    with open(lines_file, "rb") as f:
        subprocess.run(publisher_cmd(topic), stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    try:  # once the publisher is done, what it sent arrives within seconds; else it never will
        sub.wait(timeout=max(30, n / 2000))  # a QoS 2 backlog drains at a few thousand/s
    except subprocess.TimeoutExpired:
        sub.kill()  # the mosquitto_sub we started, by its PID
        sub.wait()
        return 0.0, -1
    dt = time.monotonic() - t0
    return (n / dt if sub.returncode == 0 else 0.0), sub.returncode


def main():
    with tempfile.TemporaryDirectory() as d:
        from pathlib import Path
        b = Broker(Path(d)).start()
        try:
            print(f"{'case':<24} {'iot-pub msg/s':>14} {'mosquitto_pub msg/s':>20} {'ratio':>6}")
            for qos, n in [(0, 1_000_000), (1, 60_000), (1, 200_000), (2, 60_000), (2, 200_000)]:
                n = max(1000, int(n * scale))
                lines = Path(d) / f"lines-{n}"
                lines.write_text("".join(f"message {i:08d} payload\n" for i in range(n)))
                # alternating runs, medians: a single run at QoS 1/2 varies by 15 % here
                ours_runs, peer_runs, rc2 = [], [], 0
                for _ in range(REPS if n <= 100_000 or qos == 0 else 1):
                    r, _ = delivered_rate(b, lambda t: [f"{tools}/iot-pub", "-p", str(b.port), "-l", "-t", t,
                                                        "-q", str(qos)], n, qos, lines)
                    ours_runs.append(r)
                    r, rc = delivered_rate(b, lambda t: ["mosquitto_pub", "-p", str(b.port), "-l", "-t", t,
                                                         "-q", str(qos)], n, qos, lines)
                    peer_runs.append(r)
                    rc2 = rc2 or rc
                ours, peer = statistics.median(ours_runs), statistics.median(peer_runs)
                note = "" if rc2 == 0 else " (mosquitto_pub did not deliver all)"
                print(f"qos {qos} x {n:<15} {ours:>14.0f} {peer:>20.0f} {ours / peer if peer else float('inf'):>6.2f}{note}")
            for name, cmd in [("iot-pub", [f"{tools}/iot-pub", "-p", str(b.port), "-t", "one", "-m", "x", "-q", "1"]),
                              ("mosquitto_pub", ["mosquitto_pub", "-p", str(b.port), "-t", "one", "-m", "x", "-q", "1"])]:
                times = []
                for _ in range(20):
                    t0 = time.monotonic()
                    subprocess.run(cmd, check=True)
                    times.append(time.monotonic() - t0)
                times.sort()
                print(f"one message, whole process, {name}: median {times[10] * 1000:.1f} ms")
        finally:
            b.stop()


main()
