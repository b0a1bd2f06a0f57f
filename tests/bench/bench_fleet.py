"""loadgen at fleet scale (#17), side by side with the peers where there is one, medians of
alternating runs with their spread:
  1. 10,000 connections from one process: connects/s, and memory per connection (loadgen's peak
     RSS above its start, and the broker's RSS growth) against what one mosquitto_sub process costs
     for its one connection;
  2. 100,000 connections held from one machine: loadgen shards of <= 19,000 connections (this
     machine's hard limit is 20,000 descriptors per process, for mosquitto too, so each shard has its
     own broker), spread over source addresses; the aggregate connect rate and memory;
  3. fan-out deliveries/s: one publisher, 10 subscribers (loadgen --subscribers 10 against
     mosquitto_pub -l with 10 mosquitto_sub processes);
  4. WebSocket against plain TCP: iot-pub's delivered rate over ws:// and mqtt:// to one broker.
The comparisons with a peer (memory per connection, fan-out, and WebSocket against TCP) are rows
of ./dev.sh bench's table; connect rates and the 100,000-connection run have no peer here
(bench_connect compares connects with Paho) and print their own lines.
Usage: bench_fleet.py TOOLS_DIR [SCALE]. Bounded: fixed counts, every wait has a timeout."""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from benchlib import Sample, alternate, row  # noqa: E402
from mqtt_broker import free_port  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
RUNS = 3


def rss_kb(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def med(xs):
    return statistics.median(xs), (max(xs) - min(xs)) / 2


class Mosquitto:
    def __init__(self, d, websockets=False):
        self.port = free_port()
        self.ws_port = free_port() if websockets else None
        conf = Path(d) / f"m{self.port}.conf"
        text = f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n" \
               "max_queued_messages 0\nmax_queued_bytes 0\n"
        if websockets:
            text += f"listener {self.ws_port} lo\nprotocol websockets\n"
        conf.write_text(text)
        self.p = subprocess.Popen(["prlimit", "--nofile=20000:20000", "mosquitto", "-c", str(conf)],
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and self.p.poll() is None, "mosquitto did not start"
                time.sleep(0.02)

    def rss(self):
        return rss_kb(self.p.pid)

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


def loadgen(d, url, *args, timeout=600):
    out = Path(d) / f"lg-{time.monotonic_ns()}.json"
    r = subprocess.run(["prlimit", "--nofile=20000:20000", f"{tools}/loadgen", url, "--json", str(out), *args],
                       capture_output=True, timeout=timeout)
    assert out.exists(), r.stderr.decode()[-2000:]
    return json.loads(out.read_text())


def mosquitto_sub_rss(d):
    """What one mosquitto_sub process costs for its one connection: the median RSS of 20."""
    b = Mosquitto(d)
    subs = [subprocess.Popen(["mosquitto_sub", "-p", str(b.port), "-t", "x", "-q", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(20)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(rss_kb(p.pid) == 0 for p in subs):
        time.sleep(0.05)
    time.sleep(0.5)  # settled (an RSS, not a condition to wait for)
    peer = statistics.median(rss_kb(p.pid) for p in subs)
    for p in subs:
        p.terminate()
        p.wait(timeout=10)
    b.stop()
    return peer


def connections_10k(d):
    n = max(1000, int(10000 * scale))
    rates, broker_per_conn = [], []

    def ours():
        b = Mosquitto(d)
        before = b.rss()
        held = {}

        def watch():  # the broker's RSS while every connection is held
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "done" not in held:
                held["max"] = max(held.get("max", 0), b.rss())
                time.sleep(0.05)
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        s = loadgen(d, f"mqtt://127.0.0.1:{b.port}", "--devices", str(n), "--rate", "0.5", "-C", "2",
                    "--connect-rate", "100000", "--no-sub")
        held["done"] = True
        t.join(timeout=10)
        b.stop()
        rates.append(n / s["connects"]["seconds"])
        broker_per_conn.append((held["max"] - before) / n)
        return Sample((s["held_rss_kb"] - s["base_rss_kb"]) / n, lost=n - s["connects"]["ok"], expected=n)

    xs, ys = alternate(ours, lambda: Sample(mosquitto_sub_rss(d)))
    r, rs = med(rates)
    bm, bs = med(broker_per_conn)
    row(f"memory per connection, {n:,} held by one loadgen", "KiB/conn", xs, ys,
        "one mosquitto_sub process, its one connection", higher_is_better=False,
        note=f"{r:,.0f} connects/s (±{rs:,.0f}); mosquitto {bm:.2f} KiB per connection (±{bs:.2f})")


def connections_100k(d):
    total = max(2000, int(100000 * scale))
    shards = max(1, -(-total // 19000))
    per = total // shards
    brokers = [Mosquitto(d) for _ in range(shards)]
    try:
        results = [None] * shards

        def shard(k):
            # each shard connects from its own range of four source addresses, and holds its connections
            # 20 s after the last is up (two messages each at 0.1/s): the shards overlap
            src = f"127.0.{k + 1}.1-4"
            results[k] = loadgen(d, f"mqtt://127.0.0.1:{brokers[k].port}", "--devices", str(per), "--rate", "0.1",
                                 "-C", "2", "--connect-rate", "100000", "--no-sub", "--source", src,
                                 "-i", f"fleet{k}")
        t0 = time.monotonic()
        ts = [threading.Thread(target=shard, args=(k,)) for k in range(shards)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=600)
        ok = sum(r["connects"]["ok"] for r in results)
        secs = max(r["connects"]["seconds"] for r in results)
        lg = sum(r["held_rss_kb"] - r["base_rss_kb"] for r in results) / max(ok, 1)
        print(f"{ok:,} of {shards * per:,} connections held from one machine ({shards} loadgen shards, "
              f"{shards * 4} source addresses, {shards} brokers): {ok / secs:,.0f} connects/s together, "
              f"loadgen {lg:.2f} KiB per connection; whole run {time.monotonic() - t0:.1f} s")
    finally:
        for b in brokers:
            b.stop()


def fanout(d):
    subs, n = 10, max(2000, int(20000 * scale))
    b = Mosquitto(d)

    def ours():
        s = loadgen(d, f"mqtt://127.0.0.1:{b.port}", "--devices", "1", "--total-rate", "1000000", "-C", str(n),
                    "--subscribers", str(subs), "-t", "fan/{dev}", "--drain", "20s")
        return Sample(s["received"] / s["receive_s"], lost=s["lost"], expected=subs * n)

    def peer():  # 10 mosquitto_sub processes, one mosquitto_pub -l
        subprocess.run(["mosquitto_pub", "-p", str(b.port), "-t", "mf/ready", "-m", "probe", "-r"], check=True)
        # each mosquitto_sub writes to a file (a Python reader would be the bottleneck) and exits
        # at its last message: the run ends when the last one has
        outs, ps = [], []
        for k in range(subs):
            outs.append(Path(d) / f"fan{k}-{time.monotonic_ns()}.out")
            ps.append(subprocess.Popen(["mosquitto_sub", "-p", str(b.port), "-t", "mf/#", "-C", str(n + 1),
                                        "-W", "60"], stdout=open(outs[-1], "wb"), stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while not all(o.exists() and o.stat().st_size >= 6 for o in outs):  # each has its probe
            assert time.monotonic() < deadline, "mosquitto_sub did not subscribe"
            time.sleep(0.01)
        t0 = time.monotonic()
        pub = subprocess.run(["mosquitto_pub", "-p", str(b.port), "-t", "mf/x", "-l"],
                             input="".join(f"{i} {'x' * 30}\n" for i in range(n)).encode(), timeout=120)
        assert pub.returncode == 0
        for p in ps:
            p.wait(timeout=90)
        elapsed = time.monotonic() - t0
        got = sum(o.read_bytes().count(b"\n") - 1 for o in outs)
        return Sample(got / elapsed, lost=subs * n - got, expected=subs * n)

    try:
        xs, ys = alternate(ours, peer)
    finally:
        b.stop()
    row(f"fan-out to {subs} subscribers, {n:,} messages", "deliv/s", xs, ys,
        f"mosquitto_pub -l + {subs} mosquitto_sub")


def websocket(d):
    n = max(1000, int(10000 * scale))
    b = Mosquitto(d, websockets=True)
    rates = {"mqtt": [], "ws": []}
    try:
        lines = "".join(f"{i} {'x' * 40}\n" for i in range(n)).encode()
        for _ in range(RUNS):
            for scheme, url in [("mqtt", f"mqtt://127.0.0.1:{b.port}"), ("ws", f"ws://127.0.0.1:{b.ws_port}")]:
                # mosquitto_sub says nothing when it has subscribed: a retained probe it receives first tells us
                subprocess.run(["mosquitto_pub", "-p", str(b.port), "-t", f"ws/{scheme}/ready", "-m", "probe", "-r"],
                               check=True)
                out = Path(d) / f"ws-{scheme}.out"
                sub = subprocess.Popen(["mosquitto_sub", "-p", str(b.port), "-t", f"ws/{scheme}/#", "-q", "1",
                                        "-C", str(n + 1), "-W", "120"], stdout=open(out, "wb"),
                                       stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 20
                while not (out.exists() and out.stat().st_size >= 6):  # its probe: subscribed
                    assert time.monotonic() < deadline, "mosquitto_sub did not subscribe"
                    time.sleep(0.01)
                t0 = time.monotonic()
                r = subprocess.run([f"{tools}/iot-pub", url, "-t", f"ws/{scheme}/x", "-q", "1", "-l"], input=lines,
                                   capture_output=True, timeout=300)
                assert r.returncode == 0, r.stderr.decode()
                sub.wait(timeout=150)  # it exits at its last message
                got = out.read_bytes().count(b"\n") - 1
                rates[scheme].append(Sample(got / (time.monotonic() - t0), lost=max(0, n - got), expected=n))
    finally:
        b.stop()
    row(f"iot-pub over ws://, {n:,} QoS 1 messages", "msg/s",
        rates["ws"], rates["mqtt"],
        "iot-pub over mqtt:// (not a peer: the WebSocket's cost)")


def main():
    with tempfile.TemporaryDirectory() as d:
        connections_10k(d)
        connections_100k(d)
        fanout(d)
        websocket(d)


if __name__ == "__main__":
    main()
