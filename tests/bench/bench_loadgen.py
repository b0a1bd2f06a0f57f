"""loadgen's numbers, side by side in one run on one mosquitto (fd limit raised): connections
held from one process and their connect rate, rate accuracy at 200/s and 20,000/s, and the most
messages/s delivered by loadgen against the same load from mosquitto_pub processes.
Usage: bench_loadgen.py TOOLS_DIR [SCALE]. Bounded: fixed counts, every step times out."""
import json
import socket
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from mqtt_broker import free_port  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def loadgen(port, d, *args):
    out = Path(d) / f"lg-{time.monotonic_ns()}.json"
    r = subprocess.run([f"{tools}/loadgen", f"mqtt://127.0.0.1:{port}", "--json", str(out), *args],
                       capture_output=True, timeout=600)
    assert out.exists(), r.stderr.decode()
    return json.loads(out.read_text())


def mosquitto_pub_delivered(port, procs, per_proc):
    """procs mosquitto_pub -l processes, per_proc lines each, at QoS 0, counted by mosquitto_sub:
    (messages delivered, delivered/s from the first send to the last arrival)."""
    total = procs * per_proc
    # mosquitto_sub says nothing when it has subscribed: a retained probe it receives first tells us
    subprocess.run(["mosquitto_pub", "-p", str(port), "-t", "mp/ready", "-m", "probe", "-r"], check=True)
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-t", "mp/#", "-C", str(total + 1), "-W", "30"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert sub.stdout.readline() == b"probe\n", "mosquitto_sub did not subscribe"
    got = {"n": 0, "last": time.monotonic()}

    def reader():  # read while the publishers run: a subscriber stalled on a full pipe makes the broker queue
        for _ in sub.stdout:
            got["n"] += 1
            got["last"] = time.monotonic()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    lines = "".join(f"{i} {'x' * 40}\n" for i in range(per_proc)).encode()
    t0 = time.monotonic()
    ps = [subprocess.Popen(["mosquitto_pub", "-p", str(port), "-t", f"mp/{k}", "-l"], stdin=subprocess.PIPE,
                           stderr=subprocess.DEVNULL) for k in range(procs)]
    for p in ps:
        p.stdin.write(lines)
        p.stdin.close()
    for p in ps:
        p.wait(timeout=120)
    sub.wait(timeout=60)  # all arrived, or -W 30 s without a message
    t.join(timeout=10)
    return got["n"], got["n"] / max(got["last"] - t0, 1e-9)


def main():
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n")
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
            procs, per = 10, max(10000, int(100000 * scale))
            peer_n, peer = mosquitto_pub_delivered(port, procs, per)
            best = None
            for rate in [50000, 100000, 150000, 200000]:
                s = loadgen(port, d, "--devices", str(procs), "--total-rate", str(rate), "-C", str(per * rate // 100000 or 1),
                            "--payload", "{dev} {seq} {rand:30}", "--drain", "10s")
                got = s["received"] / max(s["receive_s"], 1e-9)  # first send to last arrival
                print(f"loadgen at {rate}/s asked: delivered {s['received']} of {s['sent']}, {got:.0f}/s")
                if s["lost"] == 0 and (best is None or got > best):
                    best = got
            print(f"{procs} mosquitto_pub -l processes: delivered {peer_n} of {procs * per}, {peer:.0f}/s")
            print(f"most delivered without loss: loadgen {best or 0:.0f}/s, {procs} mosquitto_pub -l processes "
                  f"{peer:.0f}/s{'' if peer_n == procs * per else ' (with loss)'}, "
                  f"ratio x{(best or 0) / peer if peer else 0:.2f}")
        finally:
            broker.terminate()
            broker.wait()


if __name__ == "__main__":
    main()
