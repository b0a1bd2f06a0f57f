"""Startup (#18): one message per process, as shell loops call it -- `iot-pub -t T -m hello` against
`mosquitto_pub -t T -m hello`, a whole process each (exec, load, connect, publish, disconnect),
at QoS 0 and 1, one of each in turn, each timed from its start to its exit; a live subscriber
counts what arrived.
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
from benchlib import RUNS, Sample, Spawned, Subscriber, row  # noqa: E402
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
N = max(20, int(200 * scale))  # processes per run


# One bash loop runs both sides, A B B A ... one process each in turn, and times each process with
# bash's own clock ($EPOCHREALTIME: no fork to read it). Whole runs of one side after the other
# landed in different modes of this 2-core VM (per-run medians jumped in ~0.84 ms steps, so a
# row's ratio flipped between x0.77 and x1.00 from one full run to the next); taken in turns, both
# sides meet the same conditions. A Python fork per process would add more noise than the process.
LOOP = r"""
a=0; b=0
for ((i = 0; i < N; i++)); do
  for side in $([ $((i % 2)) = 0 ] && echo "A B" || echo "B A"); do
    t0=${EPOCHREALTIME/./}
    if [ $side = A ]; then "${A[@]}" || exit 1; else "${B[@]}" || exit 1; fi
    t1=${EPOCHREALTIME/./}
    if [ $side = A ]; then a=$((a + t1 - t0)); else b=$((b + t1 - t0)); fi
  done
done
echo $a $b
"""


def one_run(port, qos):
    """N processes of each side in turns (see LOOP); mean ms per process of each, then three more
    of each under GNU time for the peak RSS. A live subscriber counts what arrived from each."""
    samples = []
    topics = [f"bench/start/{time.monotonic_ns()}/{side}" for side in "AB"]
    subs = [Subscriber(port, t, qos) for t in topics]
    cmds = [argv + ["-p", str(port), "-t", t, "-m", "hello", "-q", str(qos)]
            for argv, t in zip(([f"{tools}/iot-pub"], ["mosquitto_pub"]), topics)]
    try:
        script = f"N={N}; A=({shlex.join(cmds[0])}); B=({shlex.join(cmds[1])})\n" + LOOP
        out = subprocess.run(["bash", "-c", script], check=True, timeout=60 + 2 * N, capture_output=True, text=True)
        totals = [int(x) for x in out.stdout.split()]
        for cmd, sub, total in zip(cmds, subs, totals):
            rss = sorted(Spawned(cmd).wait(30)[1] for _ in range(3))
            got = sub.wait_for(N + 3, 10)
            samples.append(Sample(total / N / 1000, lost=N + 3 - got, rss_kb=rss[1], expected=N + 3))
    finally:
        for sub in subs:
            sub.stop()
    return samples


def main():
    with tempfile.TemporaryDirectory() as d:
        b = Broker(Path(d)).start()
        try:
            for qos in (0, 1):
                runs = [one_run(b.port, qos) for _ in range(RUNS)]
                row(f"one message per process, QoS {qos}", "ms/proc", [r[0] for r in runs], [r[1] for r in runs],
                    "mosquitto_pub -m", higher_is_better=False, note="in turns, one process each")
        finally:
            b.stop()


if __name__ == "__main__":
    main()
