"""The simulated Modbus meter (fixtures/devices/modbus_meter.py, pymodbus) started by the tests:
Modbus RTU on a pty pair it creates, or Modbus TCP on a free loopback port."""
import os
import re
import subprocess

from mqtt_broker import free_port

METER = os.path.join(os.path.dirname(__file__), "../../fixtures/devices/modbus_meter.py")


class Meter:
    def __init__(self, tmp_path, tcp=False, animate=False, path=None):
        self.port = free_port() if tcp else None
        self.path = None if tcp else path or str(tmp_path / f"meter-{os.getpid()}-{free_port()}")
        args = ["--tcp", str(self.port)] if tcp else ["--pty", self.path]
        self.proc = subprocess.Popen(["/usr/bin/python3", METER, *args] + (["--animate"] if animate else []),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        assert line == b"ready\n", f"the Modbus device did not start: {self.proc.stderr.read().decode()}"

    @property
    def uri(self):
        return f"tcp://127.0.0.1:{self.port}" if self.port else f"serial:{self.path}"

    def mbpoll(self, *opts, write=()):
        """mbpoll against the same device (addresses from 0): reads return {address: value} of what
        it printed; with `write`, those values are written from the address given by -r."""
        where = ["-m", "tcp", "-p", str(self.port), "127.0.0.1"] if self.port else \
            ["-m", "rtu", "-b", "9600", "-P", "none", self.path]
        r = subprocess.run(["mbpoll", "-1", "-0", "-a", "1", "-o", "2", *opts, *where, *map(str, write)],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        return {int(m[1]): int(m[2]) for m in re.finditer(r"^\[(\d+)\]:\s+(-?\d+)", r.stdout.decode(), re.M)}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
