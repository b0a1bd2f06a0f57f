"""Subscriber CPU per message, side by side: iot-sub against mosquitto_sub on the same broker, the
same messages (QoS 0, published by mosquitto_pub -l), raw payloads and JSON, reported as ratios.
CPU (user + system, from the process's own rusage), not wall time: the broker sets the pace here.
Every run is bounded in count and time and stops by itself.
Usage: bench_sub.py TOOLS_DIR [SCALE] [OTHER_TOOLS_DIR]   (SCALE < 1 shrinks the 1,000,000
messages; BENCH_REPS runs per subscriber, 3 by default, medians reported; OTHER_TOOLS_DIR adds
another build's iot-sub, e.g. before a change)"""
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from mqtt_broker import Broker  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Sample, Spawned, compare, read_until  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
other = sys.argv[3] if len(sys.argv) > 3 else None


def cpu_per_message(broker, d, argv, n, lines):
    """Runs one subscriber (under GNU time) for n messages (plus a retained probe); its CPU per
    message in µs, its peak RSS, and how many it printed."""
    topic = f"bench/{time.monotonic_ns()}"
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic + "/ready", "-m", "probe", "-r"], check=True,
                   timeout=30)
    sub = Spawned(argv(topic, n + 1), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = []
    read_until(sub.p.stdout.fileno(), lambda c: first.append(c) or True, 30)  # subscribed: the probe comes first
    assert first and b"probe" in first[0], f"the subscriber did not subscribe: {first!r}"
    lines_seen = [first[0].count(b"\n") - 1]

    def drain():  # read as fast as it prints, counting lines (this process's CPU, not the subscriber's)
        for chunk in iter(lambda: sub.p.stdout.read1(1 << 16), b""):
            lines_seen[0] += chunk.count(b"\n")
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with open(lines, "rb") as f:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-l", "-q", "0"], stdin=f, timeout=300)
    try:  # QoS 0 may lose some: a subscriber still waiting after the bound is ended (ours, by PID)
        sub.wait(max(30, n / 20000))
    except TimeoutError:
        pass
    reader.join(timeout=10)
    got = max(1, lines_seen[0])
    return Sample(sub.cpu() * 1e6 / got, lost=n - min(n, got), rss_kb=sub.rss(), expected=n)


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
        try:
            for fmt, ours, anchor in [("raw", "iot-sub --format raw", "mosquitto_sub"),
                                      ("JSON Lines", "iot-sub (JSON Lines)", "mosquitto_sub -F %j")]:
                def cpu(name):
                    return lambda: cpu_per_message(b, d, cases[name], n, lines)
                compare(f"subscriber CPU, {fmt}, {n:,} QoS 0 messages", "us/msg", cpu(ours), cpu(anchor), anchor,
                        higher_is_better=False)
                if other:
                    compare(f"subscriber CPU, {fmt}, this build vs {other}", "us/msg", cpu(ours),
                            cpu("before: " + ours), "the other build", higher_is_better=False)
        finally:
            b.stop()


if __name__ == "__main__":
    main()
