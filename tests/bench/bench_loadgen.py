"""loadgen's numbers, side by side in one run on one mosquitto (fd limit raised): connections
held from one process and their connect rate, rate accuracy at 200/s and 20,000/s, and messages/s
delivered by loadgen against the same messages from ten mosquitto_pub -l processes (benchlib's
rules: alternating runs, medians, one live subscriber counting, both from process start).
Usage: bench_loadgen.py TOOLS_DIR [SCALE]. Bounded: fixed counts, every step times out."""
import json
import socket
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from benchlib import Sample, Spawned, Subscriber, alternate, row  # noqa: E402
from mqtt_broker import free_port  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def loadgen(port, d, *args):
    out = Path(d) / f"lg-{time.monotonic_ns()}.json"
    r = subprocess.run([f"{tools}/loadgen", f"mqtt://127.0.0.1:{port}", "--json", str(out), *args],
                       capture_output=True, timeout=600)
    assert out.exists(), r.stderr.decode()
    return json.loads(out.read_text())


def delivered(port, d, procs, per, start):
    """start(topic_prefix) starts the publishers of procs x per QoS 0 messages on prefix/<k>;
    counted by one iot-sub (it reads faster than mosquitto_sub prints) from the publishers'
    process start until all arrived, or 10 s passed with none arriving."""
    prefix = f"lg/{time.monotonic_ns()}"
    sub = Subscriber(port, prefix + "/+", 0, ready=prefix + "-ready", iot_sub=f"{tools}/iot-sub")
    total = procs * per
    try:
        t0 = time.perf_counter()
        ps = start(prefix)
        got = sub.wait_for(total, 10)
        dt = time.perf_counter() - t0
        rss = sum(p.wait(120)[1] or 0 for p in ps)
    finally:
        sub.stop()
    return Sample(got / dt, lost=total - got, rss_kb=rss, expected=total)


def mosquitto_pubs(port, d, procs, per):
    """procs mosquitto_pub -l processes, started together, each reading its own file of per lines."""
    src = Path(d) / f"lines-{per}"
    if not src.exists():
        src.write_text("".join(f"{i} {'x' * 40}\n" for i in range(per)))

    def start(prefix):
        return [Spawned(["mosquitto_pub", "-p", str(port), "-t", f"{prefix}/{k}", "-l"], stdin=open(src, "rb"),
                        stderr=subprocess.DEVNULL) for k in range(procs)]
    return start


def loadgen_pub(port, procs, per, rate):
    def start(prefix):
        return [Spawned([f"{tools}/loadgen", f"mqtt://127.0.0.1:{port}", "--no-sub", "-t", prefix + "/{dev}",
                         "--devices", str(procs), "--total-rate", str(rate), "-C", str(per),
                         "--payload", "{seq} {rand:40}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    return start


def main():
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "m.conf"
        # no queue limits: a subscriber that lags a moment is not dropped from (mosquitto's default is 1000)
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n"
                        "max_queued_messages 0\nmax_queued_bytes 0\n")
        broker = subprocess.Popen(["prlimit", "--nofile=20000:20000", "mosquitto", "-c", str(conf)],
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # until the broker accepts
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and broker.poll() is None, "mosquitto did not start"
                time.sleep(0.02)
        try:
            n = max(1000, int(10000 * scale))
            s = loadgen(port, d, "--devices", str(n), "--rate", "0.5", "--duration", "4s", "--connect-rate", "100000", "--drain", "10s")
            print(f"connections held from one process: {s['connects']['ok']} of {n} "
                  f"({s['connects']['failed']} failed), {s['connects']['ok'] / s['connects']['seconds']:.0f} connects/s, "
                  f"connect p99 {s['connects']['latency_us']['p99'] / 1000:.1f} ms; messages {s['received']}/{s['sent']}")
            for rate, devs in [(200, 20), (20000, 100)]:
                s = loadgen(port, d, "--devices", str(devs), "--total-rate", str(rate), "--duration", "5s")
                print(f"rate accuracy, asked {rate}/s over {devs} devices: sent {s['rate']:.1f}/s "
                      f"(x{s['rate'] / rate:.4f}), lost {s['lost']}, p99 {s['latency_us']['p99'] / 1000:.2f} ms")
            # loadgen (10 devices, one process) against 10 mosquitto_pub -l processes started together,
            # the same messages, one counting subscriber, both timed from process start (benchlib rules)
            procs, per = 10, max(10000, int(100000 * scale))
            for rate in (100000, 200000):
                ours, theirs = alternate(lambda: delivered(port, d, procs, per, loadgen_pub(port, procs, per, rate)),
                                         lambda: delivered(port, d, procs, per, mosquitto_pubs(port, d, procs, per)))
                row(f"loadgen {procs} devices at {rate:,}/s asked, {procs * per:,} msgs", "msg/s", ours, theirs,
                    f"{procs} mosquitto_pub -l processes")
        finally:
            broker.terminate()
            broker.wait()


if __name__ == "__main__":
    main()
