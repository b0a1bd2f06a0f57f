"""loadgen against a real mosquitto: exact counts, the asked rate, no loss, a valid summary,
shards merged equal to one run, thresholds as exit status; TLS, MQTT 5, payloads from a recording,
the progress line on a terminal and its absence on a pipe."""
import json
import os
import pty
import select
import shutil
import subprocess
import time

import pytest
from conftest import records, run, tool
from mqtt_broker import Broker, make_certs


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("lg")).start()
    yield b
    b.stop()


def summary(path):
    s = json.loads(path.read_text())
    for k in ["devices", "qos", "asked_rate", "rate", "duration_s", "expected", "sent", "acked", "received", "lost",
              "duplicates", "reordered", "connects", "latency_us", "warmup_us", "per_subscriber", "subscribers",
              "shared", "peak_rss_kb", "base_rss_kb", "held_rss_kb"]:
        assert k in s, k
    for h in [s["latency_us"], s["warmup_us"]] + [p["latency_us"] for p in s["per_subscriber"]]:
        assert sum(c for _, c in h["buckets"]) == h["count"]
        assert h["p50"] <= h["p90"] <= h["p99"] <= h["p999"] <= h["max"]
        assert [lo for lo, _ in h["buckets"]] == sorted(lo for lo, _ in h["buckets"])
    assert sum(p["received"] for p in s["per_subscriber"]) == s["received"]
    assert sum(s["sent_per_s"]) == s["sent"] and sum(s["received_per_s"]) <= s["received"]
    return s


def test_200_devices_at_10_per_second_for_5_seconds(broker, tmp_path):
    r = run("loadgen", broker.url, "--devices", "200", "--rate", "10", "--duration", "5s", "-q", "1", "--json",
            str(tmp_path / "s.json"), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["connects"]["ok"] == 200 and s["connects"]["failed"] == 0
    assert s["expected"] == s["sent"] == s["acked"] == s["received"] == 10000
    assert s["lost"] == 0 and s["duplicates"] == 0
    # how close the rate comes to 2,000/s is measured in tests/bench/bench_loadgen.py, not asserted here
    # each device's first message (its connection's warm-up) is reported apart from the latency
    assert s["warmup_us"]["count"] == 200 and s["latency_us"]["count"] == 10000 - 200
    assert b"lost 0" in r.stdout and b"p99" in r.stdout and b"first message of each device (warm-up" in r.stdout
    # memory per connection, from loadgen's own peak RSS
    assert s["peak_rss_kb"] >= s["held_rss_kb"] > s["base_rss_kb"] > 0 and b"KiB per connection (resident" in r.stdout


def test_shards_merged_equal_one_run(broker, tmp_path):
    common = ["--devices", "50", "--rate", "20", "-C", "40", "-q", "1", "-t", "shard/{dev}"]
    one = run("loadgen", broker.url, *common, "--json", str(tmp_path / "one.json"), timeout=60)
    assert one.returncode == 0, one.stderr.decode()
    for k in (1, 2):
        r = run("loadgen", broker.url, *common, "--shard", f"{k}/2", "--json", str(tmp_path / f"s{k}.json"),
                "-i", f"shard{k}", timeout=60)
        assert r.returncode == 0, r.stderr.decode()
    halves = [summary(tmp_path / f"s{k}.json") for k in (1, 2)]
    assert [h["devices"] for h in halves] == [25, 25]
    m = run("loadgen", "merge", str(tmp_path / "s1.json"), str(tmp_path / "s2.json"), "--json",
            str(tmp_path / "m.json"))
    assert m.returncode == 0, m.stderr.decode()
    merged, single = summary(tmp_path / "m.json"), summary(tmp_path / "one.json")
    for k in ["devices", "expected", "sent", "acked", "received", "lost", "duplicates"]:
        assert merged[k] == single[k] == (50 if k == "devices" else 2000 if k != "lost" and k != "duplicates" else 0), k
    assert merged["latency_us"]["count"] + merged["warmup_us"]["count"] == 2000
    assert merged["per_subscriber"][0]["unique"] == 2000
    assert merged["connects"]["ok"] == 50
    # a summary missing a key, or with one of the wrong type, is bad data named by file and key
    # (it once segfaulted, or merged as if the value were 0)
    for key, damage in [("lost", None), ("sent", "many"), ("connects/ok", None), ("latency_us", [1, 2])]:
        s = summary(tmp_path / "s2.json")
        at, last = s, key.split("/")
        for part in last[:-1]:
            at = at[part]
        if damage is None:
            del at[last[-1]]
        else:
            at[last[-1]] = damage
        (tmp_path / "bad.json").write_text(json.dumps(s))
        m = run("loadgen", "merge", str(tmp_path / "s1.json"), str(tmp_path / "bad.json"))
        assert m.returncode == 3, (key, m.returncode, m.stderr.decode())
        assert f"bad.json: key '{key}'" in m.stderr.decode(), m.stderr.decode()


def test_fail_if_thresholds_set_the_exit_status(broker, tmp_path):
    base = ["--devices", "5", "--rate", "50", "-C", "20"]
    ok = run("loadgen", broker.url, *base, "--fail-if", "loss>0", "--fail-if", "p99>10s")
    assert ok.returncode == 0, ok.stderr.decode()
    junit = tmp_path / "gates.xml"
    bad = run("loadgen", broker.url, *base, "--fail-if", "p50>0us", "--fail-if", "loss>0", "--junit", str(junit))
    assert bad.returncode == 5 and "--fail-if: p50>0us" in bad.stderr.decode()  # 5: answered, but wrongly
    from junitparser import Failure, JUnitXml  # each gate a testcase, as CI shows it
    suite = list(JUnitXml.fromfile(str(junit)))[0]
    assert (suite.tests, suite.failures) == (2, 1)
    cases = {c.name: c for c in suite}
    assert cases["--fail-if loss>0"].is_passed
    failure = [r for r in cases["--fail-if p50>0us"].result if isinstance(r, Failure)][0]
    assert failure.message.startswith("--fail-if: p50>0us")
    usage = run("loadgen", broker.url, *base, "--fail-if", "p99>>fast")
    assert usage.returncode == 2
    # a gate that cannot be read is refused before the run: no broker is even tried
    early = run("loadgen", "mqtt://127.0.0.1:1", "--devices", "1", "-C", "1", "--fail-if", "bogus>3")
    assert early.returncode == 2 and "unknown metric 'bogus'" in early.stderr.decode(), early.stderr.decode()
    assert early.stderr.decode().count("\n") == 1, early.stderr.decode()  # the one error: no connect tried
    gone = run("loadgen", "mqtt://127.0.0.1:1", "--devices", "1", "-C", "1")
    assert gone.returncode == 4 and "subscriber could not connect" in gone.stderr.decode()


def test_html_report_is_self_contained_and_renders_in_chromium(broker, tmp_path):
    page, metrics = tmp_path / "report.html", tmp_path / "metrics.txt"
    r = run("loadgen", broker.url, "--devices", "20", "--rate", "50", "--duration", "2s", "-q", "1", "--report", str(page),
            "--metrics", str(metrics), "--fail-if", "loss>0", "--fail-if", "rate<1000000")
    assert r.returncode == 5, r.stderr.decode()  # the second gate holds: the run fails
    html = page.read_text()
    assert html.count("<svg") == 2 and "<polyline" in html and "lost 0" in html
    # the verdict, each gate's outcome and the run's parameters are on the page
    assert '<p class="verdict fail">FAIL</p>' in html
    assert "--fail-if loss&gt;0: not met" in html and "--fail-if rate&lt;1000000: held, rate&lt;1000000" in html
    for row in ["<th>devices</th><td>20</td>", "<th>rate</th><td>50 msg/s per device</td>",
                "<th>duration</th><td>2s</td>", "<th>qos</th><td>1</td>"]:
        assert row in html, row
    assert 'stroke-dasharray="6 4"' in html  # received drawn dashed over sent: both visible
    assert "e+" not in html  # axis ticks as people write numbers
    # --metrics: OpenMetrics text, read by Prometheus's own parser
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    fams = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    value = {s.name: s.value for f in fams.values() for s in f.samples if not s.labels}
    assert value["loadgen_messages_sent_total"] == value["loadgen_messages_received_total"] == 2000
    assert value["loadgen_messages_lost_total"] == 0 and value["loadgen_devices"] == 20
    assert fams["loadgen_latency_seconds"].type == "summary"
    p99 = [s.value for s in fams["loadgen_latency_seconds"].samples if s.labels.get("quantile") == "0.99"]
    assert len(p99) == 1 and 0 < p99[0] < 10
    # nothing fetched: no scripts, no external styles, fonts or images (the SVG namespace is a name)
    for bad in ["<script", "src=", "<link", "@import", "url("]:
        assert bad not in html, bad
    assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0
    shot = tmp_path / "shot.png"
    c = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={shot}", "--window-size=900,1000", page.as_uri()],
                       capture_output=True, timeout=120)
    assert shot.exists(), c.stderr.decode()[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20000  # drawn charts, not a blank page
    if os.environ.get("M2MKIT_BUILD"):  # kept as an artifact of the run, to look at
        keep = os.path.join(os.environ["M2MKIT_BUILD"], "artifacts")
        os.makedirs(keep, exist_ok=True)
        shutil.copy(shot, os.path.join(keep, "loadgen-report.png"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_tls_with_a_password_and_the_wrong_ca(tmp_path, certs):
    b = Broker(tmp_path, tls=certs, passwords={"lg": "pw1"}).start()
    try:
        (tmp_path / "pw").write_text("pw1\n")
        cred = ["-u", "lg", "--password-file", str(tmp_path / "pw")]
        r = run("loadgen", b.tls_url, *cred, "--cafile", certs["ca"], "--devices", "20", "--rate", "20", "-C", "10",
                "-q", "1", "--json", str(tmp_path / "s.json"), timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        s = summary(tmp_path / "s.json")
        assert s["connects"]["ok"] == 20 and s["sent"] == s["acked"] == s["received"] == 200 and s["lost"] == 0
        # the broker saw TLS clients (the plain port would not have taken these)
        wrong = run("loadgen", b.tls_url, *cred, "--cafile", certs["other_ca"], "--devices", "1", "-C", "1")
        assert wrong.returncode == 4, wrong.stderr.decode()
        assert "certificate is not trusted" in wrong.stderr.decode()
        bad_pw = run("loadgen", b.url, "-u", "lg", "--devices", "1", "-C", "1", env={"M2MKIT_MQTT_PASSWORD": "nope"})
        assert bad_pw.returncode == 4 and "not authorised" in bad_pw.stderr.decode()
    finally:
        b.stop()


def test_mqtt5_payloads_from_a_recording_stamped_in_a_user_property(broker, tmp_path, procs):
    lines = ['{"json":{"t":21.5}}', '{"text":"hello"}', '{"hex":"00ff10"}']
    (tmp_path / "rec.jsonl").write_text("\n".join(lines) + "\n")
    sub = procs("iot-sub", broker.url, "--verbose", "-V", "5", "-t", "rec/#", "-C", "30", "-W", "30s")
    sub.wait_stderr("subscribed to")
    r = run("loadgen", broker.url, "-V", "5", "-t", "rec/{dev}", "--payload-file", str(tmp_path / "rec.jsonl"),
            "--devices", "3", "--rate", "20", "-C", "10", "-q", "1", "--json", str(tmp_path / "s.json"), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["sent"] == s["acked"] == s["received"] == 30 and s["lost"] == 0 and s["latency_us"]["count"] + s["warmup_us"]["count"] == 30
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    got = records(out)
    # each device replays the recording in order; the stamp rides in a user property, not the payload
    by_dev = {}
    for g in got:
        by_dev.setdefault(g["topic"], []).append(g)
    assert sorted(by_dev) == ["rec/0", "rec/1", "rec/2"]
    for dev, msgs in by_dev.items():
        kinds = [(m.get("json"), m.get("text"), m.get("b64")) for m in msgs[:3]]
        assert kinds == [({"t": 21.5}, None, None), (None, "hello", None), (None, None, "AP8Q")], kinds
        stamps = [dict(m["props"]["user"])["m2m-loadgen"] for m in msgs]  # [[key, value], ...]
        assert stamps == [f"{dev[4:]}/{k}" for k in range(10)]


def test_the_stamp_can_ride_in_the_topic(broker, tmp_path):
    (tmp_path / "rec.jsonl").write_text('{"text":"same payload"}\n')
    r = run("loadgen", broker.url, "-t", "tp/d{dev}/s{seq}", "--payload-file", str(tmp_path / "rec.jsonl"),
            "--devices", "4", "--rate", "20", "-C", "5", "--json", str(tmp_path / "s.json"), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["sent"] == s["received"] == 20 and s["lost"] == 0 and s["latency_us"]["count"] + s["warmup_us"]["count"] == 20
    none = run("loadgen", broker.url, "-t", "tp/x", "--payload-file", str(tmp_path / "rec.jsonl"), "--devices", "1",
               "-C", "1")
    assert none.returncode == 0 and "latency and loss are not measured" in none.stderr.decode()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text":"ok"}\n{"topic":"no payload"}\n')
    r = run("loadgen", broker.url, "--payload-file", str(bad), "--devices", "1", "-C", "1")
    assert r.returncode == 3 and f"{bad}:2: no payload" in r.stderr.decode()


def test_progress_line_on_a_terminal_and_nothing_on_a_pipe(broker):
    args = [tool("loadgen"), broker.url, "--devices", "5", "--rate", "10", "--duration", "2500ms"]
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while p.poll() is None or select.select([master], [], [], 0)[0]:
        assert time.monotonic() < deadline, seen
        if select.select([master], [], [], 0.5)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    os.close(master)
    out = p.stdout.read()
    p.wait()
    assert p.returncode == 0, seen.decode(errors="replace")
    assert b"\rloadgen: connected 5/5  sent " in seen and b"/s  received " in seen and b"p99 " in seen
    piped = run("loadgen", broker.url, "--devices", "5", "--rate", "10", "--duration", "1500ms")
    assert piped.returncode == 0 and b"loadgen: connected" not in piped.stderr
    assert b"latency" in out and b"latency" in piped.stdout


def test_no_broker_is_exit_4_never_a_passed_gate(tmp_path):
    """A CI gate must not pass without a broker: with nothing sent, 'loss>0' held (exit 0). And a
    broker that accepts TCP but never answers CONNACK is bounded by --connect-timeout."""
    from mqtt_broker import free_port
    r = run("loadgen", f"mqtt://127.0.0.1:{free_port()}", "--devices", "2", "--no-sub", "-C", "5", "--fail-if", "loss>0")
    assert r.returncode == 4, r.stderr.decode()
    assert "no device could connect (2 failed): connection refused" in r.stderr.decode().lower()
    import socket
    with socket.socket() as silent:  # accepts connections (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"mqtt://127.0.0.1:{silent.getsockname()[1]}"
        r = run("loadgen", url, "--devices", "2", "--no-sub", "-C", "5", "--connect-timeout", "500ms", timeout=30)
        assert r.returncode == 4, r.stderr.decode()
        assert "no CONNACK within 500 ms" in r.stderr.decode(), r.stderr.decode()
        r = run("loadgen", url, "--devices", "2", "-C", "5", "--connect-timeout", "500ms", timeout=30)
        assert r.returncode == 4 and "the subscriber could not connect: no CONNACK" in r.stderr.decode()


def test_without_its_subscriber_everything_counted_sent_reaches_the_broker(broker, procs):
    """--no-sub at an unpaced rate: the run once ended with part of the send buffer unwritten
    (78-83 % reached the broker while it reported all sent). It ends once every byte is out."""
    n = 100000
    sub = procs("iot-sub", broker.url, "--verbose", "-t", "flood/#", "-C", str(n), "-W", "60s", "--format", "raw")
    sub.wait_stderr("subscribed to")
    r = run("loadgen", broker.url, "--devices", "1", "--no-sub", "--rate", "10000000", "-C", str(n), "-t", "flood/{dev}",
            "--json", "/dev/stdout", timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    code, out, err = sub.finish(timeout=90)
    assert code == 0, err.decode()  # every one of the n arrived (-C n reached)
    assert out.count(b"\n") == n


def test_the_kubernetes_indexed_job_run_locally_merges_to_one_run(broker, tmp_path):
    """deploy/loadgen-job.yaml's own arguments, once per completion index as each pod runs them
    (scaled down: fewer devices, a count instead of a minute), merged, equal one run."""
    import yaml
    docs = list(yaml.safe_load_all(open(os.path.join(os.path.dirname(__file__), "../../deploy/loadgen-job.yaml"))))
    job = next(d for d in docs if d["kind"] == "Job")
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    args = list(container["args"])
    n = spec["completions"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == n
    assert args[args.index("--shard") + 1] == f"auto/{n}"
    assert container["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    scale = {"--devices": "40", "--duration": None, "--rate": "20"}
    args[0] = broker.url
    for flag, value in scale.items():
        i = args.index(flag)
        if value is None:
            del args[i:i + 2]
        else:
            args[i + 1] = value
    args += ["-C", "10", "-t", "k8s/{dev}"]
    for index in range(n):  # what Kubernetes does: $(VAR) from the pod's environment
        pod = [a.replace("$(JOB_COMPLETION_INDEX)", str(index)).replace("/results", str(tmp_path)) for a in args]
        r = run("loadgen", *pod, env={"JOB_COMPLETION_INDEX": str(index)}, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
    shards = [summary(tmp_path / f"shard-{i}.json") for i in range(n)]
    assert [s["shard"] for s in shards] == [f"{i + 1}/{n}" for i in range(n)]
    assert sum(s["devices"] for s in shards) == 40
    m = run("loadgen", "merge", *[str(tmp_path / f"shard-{i}.json") for i in range(n)], "--json",
            str(tmp_path / "merged.json"))
    assert m.returncode == 0, m.stderr.decode()
    merged = summary(tmp_path / "merged.json")
    assert merged["devices"] == 40 and merged["sent"] == merged["received"] == 400 and merged["lost"] == 0
    # outside a Job the index is missing, and said so
    r = run("loadgen", broker.url, "--devices", "1", "-C", "1", "--shard", "auto/4", env={"JOB_COMPLETION_INDEX": ""})
    assert r.returncode == 2 and b"JOB_COMPLETION_INDEX" in r.stderr


@pytest.mark.parametrize("v", ["311", "5"])
def test_qos2_devices_every_exchange_completed(broker, tmp_path, v):
    """QoS 2: each message acknowledged at PUBCOMP, none lost or doubled, the subscriber at QoS 2."""
    r = run("loadgen", broker.url, "--devices", "30", "--rate", "20", "-C", "15", "-q", "2", "-V", v, "-t", f"q2/{v}/{{dev}}",
            "--json", str(tmp_path / "s.json"), "--fail-if", "loss>0", "--fail-if", "duplicates>0", timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["qos"] == 2 and s["sent"] == s["acked"] == s["received"] == 450 and s["lost"] == 0


def test_fan_out_every_subscriber_gets_every_message_counted_apart(broker, tmp_path):
    r = run("loadgen", broker.url, "--devices", "10", "--rate", "50", "-C", "20", "-q", "1", "--subscribers", "5",
            "-t", "fan/{dev}", "--json", str(tmp_path / "s.json"), "--metrics", str(tmp_path / "m.txt"), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["subscribers"] == 5 and s["shared"] == ""
    assert s["sent"] == 200 and s["received"] == 1000 and s["lost"] == 0 and s["duplicates"] == 0
    assert [(p["received"], p["unique"], p["duplicates"]) for p in s["per_subscriber"]] == [(200, 200, 0)] * 5
    assert all(p["latency_us"]["count"] == 190 for p in s["per_subscriber"])  # 10 warm-up messages apart
    assert s["warmup_us"]["count"] == 50
    assert b"of 1000 deliveries: each message to 5 subscribers" in r.stdout
    assert b"subscribers: 5 (fan-out: each gets every message); received per subscriber 200..200" in r.stdout
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    got = {s.labels["subscriber"]: s.value for f in text_string_to_metric_families((tmp_path / "m.txt").read_text())
           if f.name == "loadgen_subscriber_received" for s in f.samples}
    assert got == {str(k): 200 for k in range(5)}


@pytest.mark.parametrize("v", ["311", "5"])
def test_a_shared_subscription_group_gets_each_message_once(broker, tmp_path, v):
    r = run("loadgen", broker.url, "-V", v, "--devices", "8", "--rate", "50", "-C", "25", "-q", "1",
            "--subscribers", "4", "--shared", "workers", "-t", f"sh{v}/{{dev}}", "--json", str(tmp_path / "s.json"),
            timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s = summary(tmp_path / "s.json")
    assert s["shared"] == "workers" and s["subscribers"] == 4
    assert s["sent"] == s["received"] == 200 and s["lost"] == 0 and s["duplicates"] == 0
    per = [p["unique"] for p in s["per_subscriber"]]
    assert sum(per) == 200 and all(n > 0 for n in per), per  # the broker spread them over the group
    assert b"in shared group 'workers' (each message to one of them)" in r.stdout


def test_devices_connect_from_every_source_address_in_turn(tmp_path):
    b = Broker(tmp_path).start()
    try:
        r = run("loadgen", b.url, "--devices", "30", "-C", "2", "--rate", "20", "--source", "127.0.0.2-4",
                "-i", "src", "--json", str(tmp_path / "s.json"), timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        s = summary(tmp_path / "s.json")
        assert s["connects"]["ok"] == 30 and s["lost"] == 0

        def froms(log):  # the broker's own log says where each device connected from
            return [line.split(" from ")[1].split(":")[0] for line in log.splitlines()
                    if "New client connected from" in line and " as src-" in line and "-sub-" not in line]

        b.wait_log(lambda log: len(froms(log)) >= 30)  # read by another thread: there already, or soon
        assert sorted(froms(b.log.decode())) == sorted(["127.0.0.2", "127.0.0.3", "127.0.0.4"] * 10)
    finally:
        b.stop()
