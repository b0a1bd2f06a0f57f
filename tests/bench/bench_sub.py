"""Subscriber CPU per message, side by side: iot-sub against mosquitto_sub on the same broker, the
same messages (QoS 0, published by mosquitto_pub -l), raw payloads and JSON, reported as ratios.
CPU (user + system, from the process's own rusage), not wall time: the broker sets the pace here.
Every run is bounded in count and time and stops by itself.
Usage: bench_sub.py TOOLS_DIR [SCALE] [OTHER_TOOLS_DIR]   (SCALE < 1 shrinks the 1,000,000
messages; BENCH_REPS runs per subscriber, 3 by default, medians reported; OTHER_TOOLS_DIR adds
another build's iot-sub, e.g. before a change)"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
other = sys.argv[3] if len(sys.argv) > 3 else None
REPS = int(os.environ.get("BENCH_REPS", "3"))


def cpu_per_message(broker, d, argv, n, lines):
    """Runs one subscriber for n messages (plus a retained probe); µs of its CPU per message and
    how many it printed."""
    topic = f"bench/{time.monotonic_ns()}"
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic + "/ready", "-m", "probe", "-r"], check=True)
    sub = subprocess.Popen(argv(topic, n + 1), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = sub.stdout.readline()  # subscribed: the retained probe comes first
    assert b"probe" in first, f"the subscriber did not subscribe: {first!r}"
    lines_seen = [0]

    def drain():  # read as fast as it prints, counting lines (this process's CPU, not the subscriber's)
        for chunk in iter(lambda: sub.stdout.read(1 << 16), b""):
            lines_seen[0] += chunk.count(b"\n")
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with open(lines, "rb") as f:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-l", "-q", "0"], stdin=f, timeout=300)
    # QoS 0 may lose some: a subscriber still waiting after the bound is stopped (our own child, by PID)
    stop = threading.Timer(max(30, n / 20000), sub.terminate)
    stop.start()
    _, _, ru = os.wait4(sub.pid, 0)  # the subscriber's own CPU, from its rusage
    stop.cancel()
    sub.returncode = 0
    reader.join(timeout=10)
    got = max(1, lines_seen[0])
    return (ru.ru_utime + ru.ru_stime) * 1e6 / got, got


def main():
    n = max(1000, int(1_000_000 * scale))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        b = Broker(d).start()
        lines = d / "lines"
        lines.write_text("".join(f"message {i:08d} payload\n" for i in range(n)))
        url = f"mqtt://127.0.0.1:{b.port}"
        cases = {
            "mosquitto_sub": lambda t, c: ["mosquitto_sub", "-p", str(b.port), "-t", t, "-t", t + "/ready", "-C", str(c)],
            "mosquitto_sub -F %j": lambda t, c: ["mosquitto_sub", "-p", str(b.port), "-t", t, "-t", t + "/ready",
                                                 "-C", str(c), "-F", "%j"],
            "iot-sub --format raw": lambda t, c: [f"{tools}/iot-sub", url, "-t", t, "-t", t + "/ready", "-C", str(c),
                                                  "--format", "raw"],
            "iot-sub (JSON Lines)": lambda t, c: [f"{tools}/iot-sub", url, "-t", t, "-t", t + "/ready", "-C", str(c),
                                                  "--format", "jsonl"],
        }
        if other:
            cases["before: iot-sub --format raw"] = lambda t, c: [f"{other}/iot-sub", url, "-t", t, "-t", t + "/ready",
                                                                  "-C", str(c), "--format", "raw"]
            cases["before: iot-sub (JSON Lines)"] = lambda t, c: [f"{other}/iot-sub", url, "-t", t, "-t",
                                                                  t + "/ready", "-C", str(c), "--format", "jsonl"]
        runs = {k: [] for k in cases}
        got = {k: [] for k in cases}
        try:
            for _ in range(REPS):  # alternating, so a slow moment of the machine hits every subscriber
                for k, argv in cases.items():
                    us, count = cpu_per_message(b, d, argv, n, lines)
                    runs[k].append(us)
                    got[k].append(count)
        finally:
            b.stop()
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(f"{n} QoS 0 messages, subscriber CPU (user+sys) per message, median of {REPS}")
        print(f"{'subscriber':<30} {'us/msg':>8} {'received':>10} {'vs mosquitto_sub':>17}")
        for k in cases:
            peer = med["mosquitto_sub -F %j"] if "JSON" in k or "%j" in k else med["mosquitto_sub"]
            print(f"{k:<30} {med[k]:>8.2f} {min(got[k]):>10} {med[k] / peer:>16.2f}x")


if __name__ == "__main__":
    main()
