"""CoAP endpoints (#19): iot-pub sends each message in a request, iot-sub reads a resource once or
observes it. The peers are libcoap's own coap-server and coap-client (Debian libcoap3-bin): what
iot-pub PUTs coap-client reads back byte for byte, what coap-client PUTs an observing iot-sub
prints as it changes."""
import json
import signal
import subprocess
import time

import pytest
from conftest import records, run, stats_of
from mqtt_broker import free_port, make_certs

SERVER = "coap-server-openssl"
CLIENT = "coap-client-openssl"


class CoapServer:
    def __init__(self, dynamic=True, psk=None, pki=None, client_ca=None, host="127.0.0.1", port=None):
        self.port = port or free_port()  # a TCP port found free; libcoap listens on the same number for UDP
        args = [SERVER, "-A", host, "-p", str(self.port)] + (["-d", "50"] if dynamic else [])
        if psk:  # DTLS on port + 1, with this pre-shared key
            args += ["-k", psk]
        if pki:  # DTLS on port + 1 with this certificate; with client_ca it wants the client's, signed by it
            args += ["-c", pki["cert"], "-j", pki["key"]] + (["-C", client_ca] if client_ca else ["-n"])
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"coap://{host}:{self.port}"
        deadline = time.monotonic() + 10
        while self.get("/") is None:  # answering: its root resource says what it is
            assert time.monotonic() < deadline, "coap-server did not answer"
            assert self.p.poll() is None, "coap-server exited"

    def get(self, path):
        r = subprocess.run([CLIENT, "-m", "get", "-B", "2", f"{self.url}{path}"], capture_output=True, timeout=30)
        if r.returncode != 0 or not r.stdout:
            return None
        assert r.stdout.endswith(b"\n")  # coap-client ends what it prints with a newline
        return r.stdout[:-1]

    def put(self, path, data):
        subprocess.run([CLIENT, "-m", "put", "-e", data, f"{self.url}{path}"], check=True, capture_output=True,
                       timeout=30)

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


@pytest.fixture
def server():
    s = CoapServer()
    yield s
    s.stop()


def test_iot_pub_puts_each_message_and_coap_client_reads_it_back(server):
    r = run("iot-pub", f"{server.url}/plant/pump1", "--method", "PUT", "--stats",
            input='{"json":{"t":21.5}}\n{"text":"héllo"}\n')
    assert r.returncode == 0, r.stderr.decode()
    assert server.get("/plant/pump1") == "héllo".encode()  # the last one written
    s = stats_of(r.stderr)
    assert (s["records_in"], s["published"], s["acked"], s["failed"], s["coap_requests"]) == (2, 2, 2, 0, 2)


def test_a_records_coap_object_gives_its_method_and_path(server):
    lines = [
        '{"text":"a","coap":{"method":"PUT","path":"sensors/t1"}}',
        '{"text":"b","coap":{"method":"PUT","path":"/sensors/t2"}}',
        '{"text":"x","coap":{"method":"GET"}}',
        '{"text":"y","coap":"PUT"}',
        '{"text":"c","coap":{"path":"sensors/t1"}}',  # --method's PUT, this record's path
    ]
    r = run("iot-pub", f"{server.url}/ignored", "--method", "PUT", "--stats", input="\n".join(lines) + "\n")
    err = r.stderr.decode()
    assert 'line 3: "coap"."method" "GET": use POST or PUT' in err
    assert 'line 4: "coap" must be an object' in err
    assert server.get("/sensors/t1") == b"c" and server.get("/sensors/t2") == b"b"
    assert server.get("/ignored") is None  # no message went to the URI's own path
    s = stats_of(r.stderr)
    assert (s["records_in"], s["published"], s["bad_records"]) == (5, 3, 2)
    r = run("iot-pub", f"{server.url}/x", "--strict", input=lines[2] + "\n")
    assert r.returncode == 3 and "line 1:" in r.stderr.decode()


def test_a_large_payload_goes_blockwise(server):
    big = "".join(f"{i:05d}" for i in range(3000))  # 15,000 bytes: more than one datagram takes
    r = run("iot-pub", f"{server.url}/big", "--method", "PUT", "-l", input=big + "\n")
    assert r.returncode == 0, r.stderr.decode()
    assert server.get("/big") == big.encode()


def test_non_requests(server):
    server.put("/n", "before")
    r = run("iot-pub", f"{server.url}/n", "--method", "PUT", "--non", "-m", "after", "--stats")
    assert r.returncode == 0, r.stderr.decode()
    s = stats_of(r.stderr)
    assert (s["published"], s["acked"]) == (1, 0)  # a NON is sent, never acknowledged
    deadline = time.monotonic() + 10
    while server.get("/n") != b"after":  # a NON may be answered later than it left
        assert time.monotonic() < deadline


def test_a_4xx_answer_fails_the_message_with_the_servers_words():
    s = CoapServer(dynamic=False)  # no resource may be created: a PUT to a new path is 4.04
    try:
        r = run("iot-pub", f"{s.url}/nothere", "--method", "PUT", "-m", "x", "--stats")
        assert r.returncode == 1
        err = r.stderr.decode()
        assert "(line 1): CoAP 4.04" in err and "counted as failed" in err
        assert stats_of(r.stderr)["coap_retries"] == 0  # 4.xx is not retried
    finally:
        s.stop()


class FailingCoapServer:
    """A CoAP endpoint that answers the first `failures` confirmable requests 5.03 with a diagnostic
    payload, then 2.04 -- a server under load, which libcoap's coap-server cannot be made to be
    (it answers 4.xx only). The answer is piggybacked on the ACK, as RFC 7252 5.2.1 has it."""

    def __init__(self, failures):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"coap://127.0.0.1:{self.sock.getsockname()[1]}"
        self.failures, self.requests, self.stopped = failures, 0, threading.Event()
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                continue
            if len(data) < 4 or data[0] >> 6 != 1 or (data[0] >> 4) & 3 != 0:  # CoAP 1, CON only
                continue
            tkl = data[0] & 0x0F
            self.requests += 1
            fail = self.requests <= self.failures
            code, body = (0xA3, b"busy, try later") if fail else (0x44, b"")  # 5.03 / 2.04
            ack = bytes([0x60 | tkl, code]) + data[2:4] + data[4:4 + tkl] + (b"\xff" + body if body else b"")
            self.sock.sendto(ack, peer)

    def stop(self):
        self.stopped.set()
        self.t.join(timeout=5)
        self.sock.close()


def test_a_5xx_answer_is_retried_then_delivered_or_failed_in_the_servers_words():
    s = FailingCoapServer(failures=2)
    try:
        r = run("iot-pub", f"{s.url}/t", "-m", "x", "--retries", "3", "--stats")
        assert r.returncode == 0, r.stderr.decode()
        err = r.stderr.decode()
        assert "CoAP 5.03" in err and "busy, try later" in err
        st = stats_of(r.stderr)
        assert (st["published"], st["failed"], st["coap_retries"], s.requests) == (1, 0, 2, 3)
    finally:
        s.stop()
    s = FailingCoapServer(failures=100)
    try:
        r = run("iot-pub", f"{s.url}/t", "-m", "x", "--retries", "1", "--stats")
        assert r.returncode == 1, r.stderr.decode()
        assert "1 of 1 message(s) failed (the first: CoAP 5.03" in r.stderr.decode()
        assert (stats_of(r.stderr)["failed"], s.requests) == (1, 2)
    finally:
        s.stop()


def test_nothing_answering_is_exit_4_for_both_tools():
    port = free_port()
    r = run("iot-pub", f"coap://127.0.0.1:{port}/x", "-m", "x", "--retries", "1")
    assert r.returncode == 4, r.stderr.decode()
    assert "not deliverable: nothing answers at that address and port" in r.stderr.decode()
    assert "trying again in 250 ms (1 of 1)" in r.stderr.decode()
    r = run("iot-sub", f"coap://127.0.0.1:{port}/x")
    assert r.returncode == 4, r.stderr.decode()


def test_iot_sub_reads_a_resource_once(server):
    server.put("/temp", "warm")
    r = run("iot-sub", f"{server.url}/temp")
    assert r.returncode == 0, r.stderr.decode()
    [rec] = records(r.stdout)
    assert rec["text"] == "warm" and rec["coap"]["code"] == "2.05" and rec["src"] == f"{server.url}/temp"
    assert "observe" not in rec["coap"]


def test_iot_sub_observes_changes_made_by_coap_client(server, procs):
    server.put("/door", "closed")
    sub = procs("iot-sub", f"{server.url}/door", "--observe", "-C", "3", "-W", "30s")
    sub.read_until(lambda out: out.count(b"\n") >= 1)  # registered: the current state came
    assert json.loads(sub.out.splitlines()[0])["text"] == "closed"
    server.put("/door", "open")
    sub.read_until(lambda out: out.count(b"\n") >= 2)
    server.put("/door", '{"state":"ajar"}')
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    recs = records(out)
    assert [r.get("text", r.get("json")) for r in recs] == ["closed", "open", {"state": "ajar"}]
    seqs = [r["coap"]["observe"] for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


@pytest.mark.parametrize("tool,args,needle", [
    ("iot-sub", ["-t", "x"], "-t is MQTT's"),
    ("iot-pub", ["-m", "x", "--batch", "5"], "--batch does not apply to a CoAP endpoint"),
    ("iot-pub", ["-m", "x", "--method", "GET"], "--method GET: use POST or PUT"),
])
def test_options_that_do_not_apply_are_usage_errors(tool, args, needle):
    r = run(tool, "coap://127.0.0.1:1/x", *args)
    assert r.returncode == 2, r.stderr.decode()
    assert needle in r.stderr.decode()


def test_coaps_with_a_pre_shared_key(tmp_path):
    s = CoapServer(psk="s3cret-key")
    url = f"coaps://127.0.0.1:{s.port + 1}/secure"
    (tmp_path / "key").write_text("s3cret-key\n")
    (tmp_path / "wrong").write_text("guess\n")
    psk = ["--psk-identity", "dev1", "--psk-key-file", str(tmp_path / "key")]
    try:
        r = run("iot-pub", url, "--method", "PUT", "-m", "over DTLS", *psk)
        assert r.returncode == 0, r.stderr.decode()
        peer = subprocess.run([CLIENT, "-m", "get", "-u", "dev1", "-k", "s3cret-key", url], capture_output=True,
                              timeout=30)
        assert peer.stdout == b"over DTLS\n"
        r = run("iot-sub", url, *psk)
        assert r.returncode == 0, r.stderr.decode()
        assert records(r.stdout)[0]["text"] == "over DTLS"
        r = run("iot-pub", url, "-m", "x", "--psk-identity", "dev1", "--psk-key-file", str(tmp_path / "wrong"),
                "--connect-timeout", "2s")
        assert r.returncode == 4
        assert "DTLS: no handshake within 2000 ms" in r.stderr.decode()
    finally:
        s.stop()


def client_cert(certs, d):
    """A client certificate signed by the test CA (CN dev1)."""
    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=dev1")
    ssl("x509", "-req", "-in", "client.csr", "-CA", certs["ca"], "-CAkey", str(d / "ca.key"), "-CAcreateserial",
        "-out", "client.pem", "-days", "2")
    return str(d / "client.pem"), str(d / "client.key")


def test_coaps_with_certificates_checks_the_server_as_https_would(tmp_path):
    """The server's certificate is checked against --cafile (else the system's CAs) and must name the
    host asked for; --insecure skips both, said loudly. What iot-pub PUTs, iot-sub reads back."""
    certs = make_certs(tmp_path / "certs")
    s = CoapServer(pki=certs)
    url = f"coaps://127.0.0.1:{s.port + 1}/secure"
    other = CoapServer(pki=certs, host="127.0.0.2")  # a certificate for 127.0.0.1 and localhost only
    try:
        r = run("iot-pub", url, "--method", "PUT", "-m", "over DTLS", "--cafile", certs["ca"])
        assert r.returncode == 0, r.stderr.decode()
        r = run("iot-sub", f"coaps://localhost:{s.port + 1}/secure", "--cafile", certs["ca"])
        assert r.returncode == 0, r.stderr.decode()
        assert records(r.stdout)[0]["text"] == "over DTLS"
        r = run("iot-pub", url, "-m", "x", "--cafile", certs["other_ca"])
        assert r.returncode == 4
        assert (f"{url}: DTLS: the server's certificate is not trusted: unable to get local issuer certificate "
                f"(--cafile {certs['other_ca']})") in r.stderr.decode()
        r = run("iot-pub", url, "-m", "x")
        assert r.returncode == 4
        assert "not trusted: unable to get local issuer certificate (the system's CAs; give --cafile)" \
            in r.stderr.decode()
        r = run("iot-pub", f"coaps://127.0.0.2:{other.port + 1}/secure", "-m", "x", "--cafile", certs["ca"])
        assert r.returncode == 4
        assert "DTLS: the server's certificate is not for '127.0.0.2'" in r.stderr.decode()
        r = run("iot-pub", url, "--method", "PUT", "-m", "unchecked", "--insecure")
        assert r.returncode == 0, r.stderr.decode()
        assert "--insecure: the server's certificate is not checked" in r.stderr.decode()
        peer = subprocess.run([CLIENT, "-m", "get", "-n", url], capture_output=True, timeout=30)
        assert peer.stdout == b"unchecked\n"
    finally:
        s.stop()
        other.stop()


def test_coaps_with_a_client_certificate(tmp_path):
    certs = make_certs(tmp_path / "certs")
    cert, key = client_cert(certs, tmp_path / "certs")
    s = CoapServer(pki=certs, client_ca=certs["ca"])
    url = f"coaps://127.0.0.1:{s.port + 1}/secure"
    try:
        r = run("iot-pub", url, "--method", "PUT", "-m", "mutual", "--cafile", certs["ca"], "--cert", cert,
                "--key", key)
        assert r.returncode == 0, r.stderr.decode()
        r = run("iot-sub", url, "--cafile", certs["ca"], "--cert", cert, "--key", key)
        assert records(r.stdout)[0]["text"] == "mutual"
        r = run("iot-pub", url, "-m", "x", "--cafile", certs["ca"])
        assert r.returncode == 4
        assert "does it want a certificate of ours, --cert and --key?" in r.stderr.decode()
        r = run("iot-pub", url, "-m", "x", "--cafile", certs["ca"], "--cert", certs["cert"], "--key", key)
        assert r.returncode == 2
        assert f"--key '{key}' does not belong to --cert '{certs['cert']}'" in r.stderr.decode()
    finally:
        s.stop()


@pytest.mark.parametrize("args,needle", [
    (["--psk-identity", "d"], "a pre-shared key needs both --psk-identity and --psk-key-file"),
    (["--psk-identity", "d", "--psk-key-file", "/dev/null", "--insecure"], "a pre-shared key (--psk-identity, "
                                                                           "--psk-key-file) or certificates"),
    (["--cert", "/dev/null"], "--cert and --key go together"),
    (["--cafile", "/nonexistent/ca.pem"], "--cafile: cannot read '/nonexistent/ca.pem'"),
])
def test_coaps_options_that_do_not_fit_are_usage_errors(args, needle):
    r = run("iot-pub", "coaps://127.0.0.1:1/x", "-m", "x", *args)
    assert r.returncode == 2
    assert needle in r.stderr.decode()
    r = run("iot-pub", "coap://127.0.0.1:1/x", "-m", "x", "--insecure")
    assert r.returncode == 2
    assert "--cafile, --capath, --cert, --key and --insecure go with coaps://" in r.stderr.decode()


# ---- the bridge's CoAP uplink ----

def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # asking the CoAP server again: it has no way to tell us


def test_bridge_uplink_to_a_coap_server_keeps_order_across_an_outage(tmp_path, procs):
    """Each line from the device is a PUT to the path its template gives; while the server is away
    the bridge tries again with backoff and the rest wait behind, so nothing is lost or reordered."""
    s = CoapServer()
    dev = str(tmp_path / "dev")
    bridge = procs("bridge", f"pty:{dev}", f"{s.url}/", "-t", "sensors/{seq}", "--method", "PUT", "--stats",
                   "--verbose")
    try:
        bridge.wait_stderr("pty device at")
        with open(dev, "wb", buffering=0) as f:
            f.write(b"a\nb\nc\n")
            wait_for(lambda: s.get("/sensors/3") == b"c", "the third line")
            assert [s.get(f"/sensors/{i}") for i in (1, 2)] == [b"a", b"b"]
            s.stop()
            f.write(b"d\ne\n")
            bridge.wait_stderr("sending it again")
            s = CoapServer(port=s.port)  # back, with none of the old resources
            wait_for(lambda: s.get("/sensors/5") == b"e", "the lines sent while the server was away")
            assert s.get("/sensors/4") == b"d"
        bridge.p.send_signal(signal.SIGINT)
        code, _, err = bridge.finish()
        assert code == 130
        st = stats_of(err)
        assert (st["published"], st["acked"], st["failed"]) == (5, 5, 0) and st["resent"] >= 1
        assert st["queue"] == 0
    finally:
        s.stop()


def test_bridge_polls_a_register_map_into_coap_resources(tmp_path, procs):
    from modbus_device import Meter
    meter = Meter(tmp_path)
    s = CoapServer()
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    (tmp_path / "map.toml").write_text((root / "fixtures/devices/meter-map.toml").read_text()
                                       .replace('poll = "1s"', 'poll = "200ms"'))
    bridge = procs("bridge", meter.uri, f"{s.url}/", "--framing", "modbus-rtu", "--map", str(tmp_path / "map.toml"),
                   "--method", "PUT", "--reply-timeout", "300ms")
    try:
        wait_for(lambda: s.get("/m2m/meter/setpoint") is not None, "the polled values")
        wait_for(lambda: s.get("/m2m/meter/voltage") is not None, "the polled values")
        v = json.loads(s.get("/m2m/meter/voltage"))
        assert (v["device"], v["name"], v["value"]) == ("meter", "voltage", 230.5)
        assert json.loads(s.get("/m2m/meter/setpoint"))["value"] == 500
        bridge.p.send_signal(signal.SIGINT)
        assert bridge.finish()[0] == 130
    finally:
        s.stop()
        meter.stop()


def test_bridge_coap_uplink_a_4xx_fails_the_message_in_words(tmp_path, procs):
    s = CoapServer()
    dev = str(tmp_path / "dev")
    bridge = procs("bridge", f"pty:{dev}", f"{s.url}/.well-known/core", "--method", "PUT", "--stats", "--verbose")
    try:
        bridge.wait_stderr("pty device at")
        with open(dev, "wb", buffering=0) as f:
            f.write(b"x\n")
            bridge.wait_stderr("counted as failed")
        bridge.p.send_signal(signal.SIGINT)
        code, _, err = bridge.finish()
        assert ".well-known/core: CoAP 4.05" in err.decode()
        assert (stats_of(err)["failed"], stats_of(err)["published"]) == (1, 0)
    finally:
        s.stop()
