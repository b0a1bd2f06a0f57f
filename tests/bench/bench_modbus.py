"""The bridge's Modbus polling on an RTU bus the benchmark answers itself (a pty): reads per poll
round and values per second for the demo register map, reads grouped (the default) against one
read per value (max_gap = -1); the quiet time measured between an answer and the next request;
and how steady two units' poll intervals stay beside a unit that never answers. Bounded: each
run stops at a fixed count of reads (and at 120 s at most). Usage: bench_modbus.py TOOLS_DIR [SCALE]"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from modbus_bus import Bus  # noqa: E402
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
here = os.path.dirname(os.path.abspath(__file__))
demo_map = open(os.path.join(here, "../../fixtures/devices/meter-map.toml")).read()


def run_bridge(broker, bus, map_text, tmp, enough, extra=()):
    """Runs the bridge until enough(bus) holds (bounded at 120 s); its stats and the seconds it ran."""
    (tmp / "map.toml").write_text(map_text)
    start = time.monotonic()
    p = subprocess.Popen([f"{tools}/bridge", f"serial:{bus.path}", broker.url, "--framing", "modbus-rtu", "--map",
                          str(tmp / "map.toml"), "--status-topic", "bench/st", "--stats", "--reply-timeout", "100ms",
                          *extra], stderr=subprocess.PIPE)
    while not enough(bus) and time.monotonic() - start < 120:
        time.sleep(0.05)  # polling the bus's own log: no event to wait on
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=30)[1].decode()
    return json.loads(err.split("stats: ")[-1]), time.monotonic() - start


def gaps_ms(log):
    log = sorted(log, key=lambda r: r[4])
    return [(b[4] - a[5]) * 1000 for a, b in zip(log, log[1:]) if a[5] is not None]


def grouped_vs_single(broker, tmp):
    regs = {a: a for a in range(0, 20)}
    reads = int(3000 * scale)
    print(f"demo map ({demo_map.count('[[device.value]]')} values), polled back to back for {reads} reads:")
    rows = {}
    for name, gap in (("grouped (max_gap 10)", ""), ("one read per value", "max_gap = -1\n")):
        bus = Bus({1: regs})
        text = demo_map.replace('poll = "1s"', 'poll = "1ms"\n' + gap)
        st, took = run_bridge(broker, bus, text, tmp, lambda b: len(b.requests()) >= reads)
        log = bus.requests()
        bus.close()
        values = demo_map.count("[[device.value]]")
        rounds = st["polls"] / values
        g = gaps_ms(log)
        rows[name] = st["polls"] / took
        print(f"  {name:22} {st['poll_reads'] / rounds:4.1f} reads/round  {st['polls'] / took:8.0f} values/s"
              f"  quiet time answer->next request: min {min(g):.2f} ms, median {statistics.median(g):.2f} ms")
    a, b = rows.values()
    print(f"  grouped delivers {a / b:.2f}x the values per second of one read per value")


def silent_unit(broker, tmp):
    base = """
[[device]]
name = "a"
unit = 1
poll = "200ms"
[[device.value]]
name = "v"
addr = 0
[[device]]
name = "b"
unit = 2
poll = "200ms"
[[device.value]]
name = "v"
addr = 0
"""
    silent = base + '[[device]]\nname = "c"\nunit = 3\npoll = "200ms"\n[[device.value]]\nname = "v"\naddr = 0\n'
    rounds = int(25 * scale)
    print(f"two units polled every 200 ms for {rounds} rounds, --reply-timeout 100ms --retries 1:")
    for name, text in (("alone", base), ("beside a silent unit", silent)):
        bus = Bus({1: {0: 1}, 2: {0: 2}})
        run_bridge(broker, bus, text, tmp, lambda b: len(b.requests(1)) >= rounds + 1, ["--retries", "1"])
        worst = []
        for unit in (1, 2):
            t = [r[4] for r in bus.requests(unit)]
            iv = [(b - a) * 1000 for a, b in zip(t, t[1:])]
            worst.append(max(abs(x - 200) / 200 for x in iv[1:]) * 100)
        probes = len(bus.requests(3)) // 2
        bus.close()
        print(f"  {name:22} worst interval deviation: unit 1 {worst[0]:5.1f} %, unit 2 {worst[1]:5.1f} %"
              + (f"; the silent unit probed {probes} times" if probes else ""))


with tempfile.TemporaryDirectory() as d:
    tmp = Path(d)
    os.chmod(tmp, 0o755)
    broker = Broker(tmp).start()
    try:
        grouped_vs_single(broker, tmp)
        silent_unit(broker, tmp)
    finally:
        broker.stop()
