"""m2m-send --reply as a test step: replies assembled and attributed to their request, unsolicited
result codes kept apart, and an exit status a CI step can trust (0 / 5 wrong answer / 124 no reply),
against the simulated modem (fixtures/devices/at_modem.py) on a real pty."""
import json
import os
import subprocess

from conftest import as_file, records, stats_of

MODEM = os.path.join(os.path.dirname(__file__), "../../fixtures/devices/at_modem.py")


def dialog(tmp_path, procs, requests, *args, raw=False):
    """Sends `requests` (dicts, or strings as text) to the modem with --framing at --reply; returns
    (exit code, records, stderr text)."""
    dev = str(tmp_path / "modem")
    lines = "".join(json.dumps(q if isinstance(q, dict) else {"text": q}) + "\n" for q in requests)
    send = procs("m2m-send", f"pty:{dev}", "--framing", "at", "--reply", "--stats", *args,
                 stdin=as_file(tmp_path, lines))
    send.wait_stderr("pty device at")  # the first request waits in the pty until the modem opens it
    modem = subprocess.Popen(["/usr/bin/python3", MODEM, dev])
    try:
        code, out, err = send.finish()
    finally:
        modem.kill()
        modem.wait()
    return code, out.decode() if raw else records(out), err.decode()


def test_a_good_dialog_exits_0_with_every_frame_attributed(tmp_path, procs):
    code, recs, err = dialog(tmp_path, procs, [{"text": "AT", "name": "ping"}, "ATI", "AT+SLOW", "AT+RING",
                                               {"text": "AT+CSQ", "expect": "^\\+CSQ: [0-9]+,"}],
                             "--reply-timeout", "5s")
    assert code == 0, err
    got = [(r["text"], r["at"]["kind"], r.get("reply_to"), r.get("unsolicited", False)) for r in recs]
    assert got == [
        ("AT", "echo", 1, False), ("OK", "final", 1, False),
        ("ATI", "echo", 2, False), ("m2mkit simulated modem", "info", 2, False), ("Revision: 1.0", "info", 2, False),
        ("OK", "final", 2, False),
        # a URC in the middle of a reply is not part of it
        ("AT+SLOW", "echo", 3, False), ("+SLOW: 1", "info", 3, False), ("+CREG: 1,5", "urc", None, True),
        ("OK", "final", 3, False),
        # and one right after a reply is not taken by the next request
        ("AT+RING", "echo", 4, False), ("OK", "final", 4, False), ("RING", "urc", None, True),
        ("AT+CSQ", "echo", 5, False), ("+CSQ: 17,99", "info", 5, False), ("OK", "final", 5, False)]
    assert recs[0]["name"] == "ping" and "name" not in recs[2]
    st = stats_of(err.encode())
    assert (st["replies"], st["reply_timeouts"], st["wrong_replies"], st["unsolicited"]) == (5, 0, 0, 2)


def test_the_human_view_marks_what_a_frame_answers(tmp_path, procs):
    code, out, err = dialog(tmp_path, procs, ["AT", "AT+RING", "ATI"], "--reply-timeout", "5s", "--format", "human",
                            "--color", "never", raw=True)
    assert code == 0, err
    lines = [(line.split("  ")[3], line.split("  ")[-1]) for line in out.splitlines() if not line.startswith(" ")]
    assert lines[:5] == [("re:1", "AT"), ("re:1", "OK"), ("re:2", "AT+RING"), ("re:2", "OK"),
                         ("unsolicited", "RING")]


def test_an_error_result_is_exit_5_naming_the_request(tmp_path, procs):
    code, recs, err = dialog(tmp_path, procs, [{"text": "AT+CPIN?", "name": "sim present"}, "AT", "AT+CMGS",
                                               "AT+NOSUCH"], "--reply-timeout", "5s")
    assert code == 5, err
    assert "line 1 (sim present): the modem answered '+CME ERROR: 10'" in err
    assert "line 3: the modem answered '+CMS ERROR: 500'" in err
    assert "line 4: the modem answered 'ERROR'" in err
    assert "3 of 4 request(s) failed" in err
    finals = [r["at"] for r in recs if r["at"]["kind"] == "final"]
    assert finals[0] == {"kind": "final", "ok": False, "result": "+CME ERROR: 10", "code": 10}
    assert [f["ok"] for f in finals] == [False, True, False, False]  # every request still went
    assert stats_of(err.encode())["wrong_replies"] == 3


def test_an_expectation_not_met_is_exit_5_with_what_came_back(tmp_path, procs):
    code, _, err = dialog(tmp_path, procs, [{"text": "AT+CSQ", "name": "signal", "expect": "^\\+CSQ: 99"}],
                          "--reply-timeout", "5s")
    assert code == 5, err
    assert "line 1 (signal): expected /^\\+CSQ: 99/, got '+CSQ: 17,99', 'OK'" in err


def test_no_reply_is_exit_124_and_the_next_request_still_goes(tmp_path, procs):
    code, recs, err = dialog(tmp_path, procs, ["AT+QUIET", "AT"], "--reply-timeout", "500ms")
    assert code == 124, err
    assert "line 1: no final result code (OK, ERROR...) within 500ms; last got 'AT+QUIET'" in err
    assert [(r["text"], r["reply_to"]) for r in recs] == [("AT+QUIET", 1), ("AT", 2), ("OK", 2)]


def test_a_reply_in_two_bursts_is_collected_whole_with_until(tmp_path, procs):
    """AT+BOOT answers "booting", then after 400 ms "READY" (no final result code): --until ends
    the reply at READY, and neither burst is given to the next request."""
    code, recs, err = dialog(tmp_path, procs, ["AT+BOOT", "AT"], "--until", "^READY", "--reply-timeout", "10s")
    assert code == 0, err
    assert [(r["text"], r["reply_to"]) for r in recs] == [("AT+BOOT", 1), ("booting", 1), ("READY", 1),
                                                          ("AT", 2), ("OK", 2)]


def test_a_reply_gap_collects_both_bursts_on_a_plain_line_framing(tmp_path, procs):
    """Without the AT framing, --reply-gap ends a reply at a silence: both bursts of AT+BOOT are
    one reply (the gap is far longer than the device's pause), then the next request goes."""
    dev = str(tmp_path / "modem")
    send = procs("m2m-send", f"pty:{dev}", "--framing", "cr", "--reply", "--reply-gap", "2s", "--reply-timeout", "20s",
                 "--raw", "--stats", stdin=as_file(tmp_path, "AT+BOOT\nATE0\n"))
    send.wait_stderr("pty device at")
    modem = subprocess.Popen(["/usr/bin/python3", MODEM, dev])
    try:
        code, out, err = send.finish()
    finally:
        modem.kill()
        modem.wait()
    assert code == 0, err.decode()
    texts = [(r["text"].strip(), r["reply_to"]) for r in records(out) if r["text"].strip()]
    assert texts == [("AT+BOOT", 1), ("booting", 1), ("READY", 1), ("ATE0", 2), ("OK", 2)]


def test_junit_report_read_by_a_real_consumer(tmp_path, procs):
    """--junit FILE: one testcase per request, named by its name field, else its text; failures
    carry what was expected and what came back. Read back with junitparser (Debian's)."""
    from junitparser import Failure, JUnitXml
    report = tmp_path / "modem.xml"
    code, _, err = dialog(tmp_path, procs, [{"text": "AT", "name": "alive"}, "ATI",
                                            {"text": "AT+CPIN?", "name": "sim <inserted>"},
                                            {"text": "AT+CSQ", "name": "signal", "expect": "^\\+CSQ: 99"},
                                            "AT+QUIET"],
                          "--reply-timeout", "500ms", "--junit", str(report))
    assert code == 5, err
    xml = JUnitXml.fromfile(str(report))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.errors) == (5, 3, 0)
    cases = {c.name: c for c in suite}
    assert list(cases) == ["alive", "ATI", "sim <inserted>", "signal", "AT+QUIET"]
    assert cases["alive"].is_passed and cases["ATI"].is_passed
    sim = [r for r in cases["sim <inserted>"].result if isinstance(r, Failure)][0]
    assert sim.type == "wrong-answer" and sim.message == "line 3 (sim <inserted>): the modem answered '+CME ERROR: 10'"
    sig = [r for r in cases["signal"].result if isinstance(r, Failure)][0]
    assert "expected /^\\+CSQ: 99/, got '+CSQ: 17,99', 'OK'" in sig.message
    quiet = [r for r in cases["AT+QUIET"].result if isinstance(r, Failure)][0]
    assert quiet.type == "timeout" and "within 500ms" in quiet.message
    assert all(c.time >= 0 for c in suite)


def test_a_half_frame_left_between_requests_is_never_glued_to_the_next_reply(tmp_path, procs):
    """A device answers A, then leaves half a line ('stale', no newline). Before the next request
    goes, that half frame is flushed as unsolicited: B's reply is 'ECHO B', not 'staleECHO B'."""
    dev = str(tmp_path / "dev")
    device_script = (
        "import os,sys,tty\n"
        "fd=os.open(sys.argv[1],os.O_RDWR|os.O_NOCTTY); tty.setraw(fd, tty.TCSANOW); buf=b''\n"
        "while True:\n"
        "  b=os.read(fd,100)\n"
        "  if not b: break\n"
        "  buf+=b\n"
        "  while b'\\n' in buf:\n"
        "    line,buf=buf.split(b'\\n',1)\n"
        "    os.write(fd,b'ECHO '+line+b'\\n'+(b'stale' if line==b'A' else b''))\n")
    send = procs("m2m-send", f"pty:{dev}", "--reply", "--reply-timeout", "5s", "--stats",
                 stdin=as_file(tmp_path, '{"text":"A"}\n{"text":"B"}\n'))
    send.wait_stderr("pty device at")
    device = subprocess.Popen(["/usr/bin/python3", "-c", device_script, dev])
    try:
        code, out, err = send.finish()
    finally:
        device.kill()
        device.wait()
    assert code == 0, err.decode()
    got = [(r["text"], r.get("reply_to"), r.get("unsolicited", False)) for r in records(out)]
    assert got == [("ECHO A", 1, False), ("stale", None, True), ("ECHO B", 2, False)]
    assert stats_of(err)["unsolicited"] == 1
