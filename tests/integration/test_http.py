"""iot-pub to HTTP endpoints (#19): each message POSTed as it is, or batches as one JSON array;
headers, content types, failures counted with the server's first line, retries with backoff, an
unreachable server (exit 4), TLS verified by default. The server is python's http.server, run by
the test, recording what it got and failing where told."""
import http.server
import json
import ssl
import subprocess
import socket
import threading

import pytest
from conftest import run, stats_of, tool
from mqtt_broker import make_certs


class Server:
    """An HTTP/1.1 server on a free loopback port. `plan[path]` lists the statuses to answer on
    that path, in turn (then 200)."""

    def __init__(self, tls=None):
        self.got = []
        self.plan = {}
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.cond:
                    queue = outer.plan.get(self.path, [])
                    code = queue.pop(0) if queue else 200
                    outer.got.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body, "answered": code})
                    outer.cond.notify_all()
                reply = b"ok" if code < 400 else f"failure {code}: the store is down\nsecond line".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=20):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout), self.got
            return list(self.got)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def test_each_record_is_posted_as_its_message_with_its_type_and_the_headers(server):
    lines = '{"json":{"t":21.5}}\n{"text":"héllo"}\n{"hex":"00ff10"}\n{"b64":"AQI="}\n'
    r = run("iot-pub", f"{server.url}/ingest", "-H", "X-Api-Key: k1", "-H", "X-Site: north", "--stats",
            input=lines)
    assert r.returncode == 0, r.stderr.decode()
    got = server.wait(4)
    assert [g["body"] for g in got] == [b'{"t":21.5}', "héllo".encode(), b"\x00\xff\x10", b"\x01\x02"]
    assert [g["headers"]["Content-Type"] for g in got] == [
        "application/json", "text/plain; charset=utf-8", "application/octet-stream", "application/octet-stream"]
    assert all(g["method"] == "POST" and g["path"] == "/ingest" for g in got)
    assert all(g["headers"]["X-Api-Key"] == "k1" and g["headers"]["X-Site"] == "north" for g in got)
    s = stats_of(r.stderr)
    assert (s["records_in"], s["published"], s["acked"], s["failed"], s["http_requests"]) == (4, 4, 4, 0, 4)


def test_raw_lines_whole_records_put_and_a_content_type_of_ones_own(server):
    r = run("iot-pub", f"{server.url}/raw", "-l", "--method", "PUT", "--content-type", "text/csv",
            input="a,1\nb,2\n")
    assert r.returncode == 0, r.stderr.decode()
    r = run("iot-pub", f"{server.url}/whole", "--whole", input='{"text":"x","dev":"p1"}\n')
    assert r.returncode == 0, r.stderr.decode()
    got = server.wait(3)
    assert [(g["method"], g["body"], g["headers"]["Content-Type"]) for g in got] == [
        ("PUT", b"a,1", "text/csv"), ("PUT", b"b,2", "text/csv"),
        ("POST", b'{"text":"x","dev":"p1"}', "application/json")]


def test_batches_are_json_arrays_and_the_last_partial_batch_goes_at_the_end(server):
    lines = "".join(json.dumps({"json": {"n": i}}) + "\n" for i in range(5)) + '{"text":"t"}\n{"hex":"0102"}\n'
    r = run("iot-pub", f"{server.url}/b", "--batch", "3", "--stats", input=lines)
    assert r.returncode == 0, r.stderr.decode()
    got = server.wait(3)
    assert [json.loads(g["body"]) for g in got] == [
        [{"n": 0}, {"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}, "t"], ["AQI="]]
    assert all(g["headers"]["Content-Type"] == "application/json" for g in got)
    s = stats_of(r.stderr)
    assert (s["published"], s["http_requests"]) == (7, 3)


def test_a_batch_not_full_goes_after_batch_time_while_input_stays_open(server, tmp_path):
    p = subprocess.Popen([tool("iot-pub"), f"{server.url}/t", "--batch", "100", "--batch-time", "200ms"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b'{"text":"early"}\n')
        p.stdin.flush()
        got = server.wait(1)  # stdin is still open: only --batch-time sent it
        assert json.loads(got[0]["body"]) == ["early"]
        assert p.poll() is None
        p.stdin.write(b'{"text":"late"}\n')
        p.stdin.close()
        assert p.wait(timeout=20) == 0, p.stderr.read().decode()
        assert json.loads(server.wait(2)[1]["body"]) == ["late"]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_5xx_is_retried_and_delivered_when_the_server_recovers(server):
    server.plan["/flaky"] = [503, 500]
    r = run("iot-pub", f"{server.url}/flaky", "-m", "reading", "--stats")
    assert r.returncode == 0, r.stderr.decode()
    got = server.wait(3)
    assert [g["answered"] for g in got] == [503, 500, 200]
    assert all(g["body"] == b"reading" for g in got)
    err = r.stderr.decode()
    assert "HTTP 503: failure 503: the store is down; trying again in 250 ms (1 of 3)" in err
    assert "trying again in 500 ms (2 of 3)" in err
    s = stats_of(r.stderr)
    assert (s["published"], s["failed"], s["http_requests"], s["http_retries"]) == (1, 0, 3, 2)


def test_a_server_that_keeps_failing_counts_the_messages_failed_and_exits_1(server):
    server.plan["/down"] = [500] * 10
    r = run("iot-pub", f"{server.url}/down", "--retries", "1", "--stats",
            input='{"text":"a"}\n{"text":"b"}\n')
    assert r.returncode == 1, r.stderr.decode()
    err = r.stderr.decode()
    assert "(lines 1-1): HTTP 500: failure 500: the store is down after 1 retry: 1 message(s) counted as failed" in err
    assert "second line" not in err  # the body's first line only
    assert "2 of 2 message(s) failed" in err
    assert len(server.wait(4)) == 4  # each message tried twice, then the next one went
    s = stats_of(r.stderr)
    assert (s["published"], s["failed"]) == (0, 2)


def test_a_4xx_is_not_retried(server):
    server.plan["/nope"] = [404]
    r = run("iot-pub", f"{server.url}/nope", "-m", "x", "--stats")
    assert r.returncode == 1
    assert "HTTP 404: failure 404" in r.stderr.decode()
    assert stats_of(r.stderr)["http_retries"] == 0
    assert len(server.wait(1)) == 1


def test_an_unreachable_server_is_exit_4():
    with socket.socket() as s:  # a port held, never listening: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = run("iot-pub", f"http://127.0.0.1:{port}/x", "-m", "x", "--retries", "1")
    assert r.returncode == 4, r.stderr.decode()
    err = r.stderr.decode()
    assert "trying again in 250 ms (1 of 1)" in err
    assert f"error: http://127.0.0.1:{port}/x: Failed to connect to 127.0.0.1 port {port}" in err


def test_https_is_verified_by_default(tmp_path):
    certs = make_certs(tmp_path / "certs")
    s = Server(tls=certs)
    try:
        r = run("iot-pub", f"{s.url}/secure", "-m", "untrusted", "--retries", "0")
        assert r.returncode == 4, r.stderr.decode()  # the system store does not trust the test's CA
        assert "certificate" in r.stderr.decode().lower()
        r = run("iot-pub", f"{s.url}/secure", "-m", "trusted", "--cafile", certs["ca"])
        assert r.returncode == 0, r.stderr.decode()
        r = run("iot-pub", f"{s.url}/secure", "-m", "opted-out", "--insecure")
        assert r.returncode == 0, r.stderr.decode()
        assert [g["body"] for g in s.wait(2)] == [b"trusted", b"opted-out"]
    finally:
        s.stop()


@pytest.mark.parametrize("args,needle", [
    (["-H", "no colon"], "--header 'no colon': expected 'Name: value'"),
    (["--method", "GET"], "--method GET: use POST or PUT"),
    (["-t", "a/b"], "--topic is MQTT's"),
    (["--batch", "0"], "--batch needs 1 or more"),
])
def test_bad_http_options_are_usage_errors(server, args, needle):
    r = run("iot-pub", f"{server.url}/x", "-m", "x", *args)
    assert r.returncode == 2, r.stderr.decode()
    assert needle in r.stderr.decode()
    assert server.got == []  # refused before any request
