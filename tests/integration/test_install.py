"""cmake --install into a staging directory, with and without a name prefix, and the .deb."""
import os
import shutil
import subprocess

import pytest

BUILD = os.environ.get("M2MKIT_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
TOOLS = ["m2m-listen", "m2m-send", "iot-pub", "iot-sub", "bridge", "replay", "loadgen"]


def install(dest, prefix=None):
    env = dict(os.environ, DESTDIR=str(dest))
    if prefix is not None:
        env["M2MKIT_NAME_PREFIX"] = prefix
    subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], env=env, check=True, capture_output=True)
    return dest / "usr"


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def expected_tree(names):
    fixtures = os.path.join(os.path.dirname(__file__), "../../fixtures")
    files = ["lib/m2mkit/m2mkit-ssl.so", "share/man/man7/m2mkit.7"] + ["share/m2mkit/fixtures/" + f for f in tree(fixtures)]
    assert "share/m2mkit/fixtures/devices/modbus_meter.py" in files  # the demo's simulated device
    for n in names:
        files += [f"bin/{n}", f"share/man/man1/{n}.1", f"share/bash-completion/completions/{n}",
                  f"share/zsh/vendor-completions/_{n}", f"share/fish/vendor_completions.d/{n}.fish"]
    return sorted(files)


def test_staged_install_puts_everything_where_it_belongs(tmp_path):
    root = install(tmp_path)
    assert tree(root) == expected_tree(TOOLS)
    # the installed tools find their module (OpenSSL, libcoap) in ../lib/m2mkit
    r = subprocess.run([str(root / "bin/iot-pub"), "--version"], capture_output=True)
    assert r.returncode == 0 and b"OpenSSL 3" in r.stdout, r.stdout + r.stderr
    for page in [f"man1/{t}.1" for t in TOOLS] + ["man7/m2mkit.7"]:
        r = subprocess.run(["man", "--warnings", "-l", str(root / "share/man" / page)], capture_output=True,
                           env=dict(os.environ, MANWIDTH="80", MANPAGER="cat"))
        assert r.returncode == 0 and r.stderr == b"", f"{page}: {r.stderr.decode()}"
    for tool, words, want in [("m2m-listen", "--stat", "--stats"), ("iot-sub", "--retained-o", "--retained-only"),
                              ("bridge", "--command-t", "--command-topic")]:
        fn = "_" + tool.replace("-", "_")
        script = root / "share/bash-completion/completions" / tool
        probe = (f"source {script}; complete -p {tool}; COMP_WORDS=({tool} {words}); COMP_CWORD=1; "
                 f'{fn}; echo "${{COMPREPLY[@]}}"')
        out = subprocess.run(["bash", "-c", probe], capture_output=True, check=True).stdout.decode().splitlines()
        assert out == [f"complete -F {fn} {tool}", want]
    for tool in TOOLS:  # every installed completion loads and registers its tool
        fn = "_" + tool.replace("-", "_")
        script = root / "share/bash-completion/completions" / tool
        r = subprocess.run(["bash", "-c", f"source {script} && complete -p {tool}"], capture_output=True)
        assert r.returncode == 0 and r.stdout.decode().strip() == f"complete -F {fn} {tool}", r.stderr.decode()
    for tool in TOOLS:  # --version names the project version and the libraries it runs with
        v = subprocess.run([str(root / "bin" / tool), "--version"], capture_output=True, check=True).stdout.decode()
        assert v.startswith(f"{tool} ") and "libserialport 0.1.1" in v
        assert ("m2mkit's own client" in v) == (tool in ("iot-pub", "iot-sub", "bridge", "replay")), v
        assert "Paho" not in v
    assert subprocess.run([str(root / "bin/m2m-send"), "--version"], capture_output=True).returncode == 0


def test_a_name_prefix_renames_tools_pages_and_completions(tmp_path):
    root = install(tmp_path, prefix="hw-")
    names = [f"hw-{t}" for t in TOOLS]
    assert tree(root) == expected_tree(names)
    for n in names:
        assert f".TH {n.upper()} 1" in (root / f"share/man/man1/{n}.1").read_text()
        assert (root / f"share/bash-completion/completions/{n}").read_text().rstrip().endswith(
            f"complete -F _{n.replace('-', '_')} {n}")
        assert (root / f"share/zsh/vendor-completions/_{n}").read_text().startswith(f"#compdef {n}\n")
        assert f"complete -c {n} " in (root / f"share/fish/vendor_completions.d/{n}.fish").read_text()
        r = subprocess.run([str(root / f"bin/{n}"), "--bogus"], capture_output=True)
        assert r.returncode == 2 and r.stderr.decode().startswith(f"{n}: error: ")
    # a tool that already carries the prefix keeps its name
    # Tools that already carry the prefix keep their name; the others get it.
    assert tree(install(tmp_path / "same", prefix="m2m-")) == expected_tree(
        [t if t.startswith("m2m-") else "m2m-" + t for t in TOOLS])


def test_debian_package_lists_the_same_tree_and_its_real_dependencies(tmp_path):
    r = subprocess.run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", str(tmp_path)],
                       capture_output=True)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    debs = [f for f in os.listdir(tmp_path) if f.endswith(".deb")]
    assert len(debs) == 1
    deb = str(tmp_path / debs[0])
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, check=True).stdout.decode()
    files = sorted(line.split()[-1].lstrip("./").removeprefix("usr/") for line in listing.splitlines()
                   if not line.startswith("d"))
    assert files == expected_tree(TOOLS)
    info = subprocess.run(["dpkg", "-I", deb], capture_output=True, check=True).stdout.decode()
    depends = next(l for l in info.splitlines() if l.strip().startswith("Depends:"))
    for lib in ["libfmt9", "libsimdjson14", "libstdc++6", "libssl3", "libcoap3", "libtomlplusplus3"]:
        assert lib in depends, depends
    for lib in ["libserialport0", "zlib1g"]:  # linked in: no shared object more to load at start (#18)
        assert lib not in depends, depends
    assert "paho" not in depends, depends  # every tool speaks MQTT through m2mkit's own client


def test_no_tool_carries_paho_or_overrides_connect():
    """No tool links Paho or defines connect(2) for the process (the hook Paho once needed)."""
    for t in TOOLS:
        path = os.path.join(BUILD, "tools", t)
        ldd = subprocess.run(["ldd", path], capture_output=True, check=True).stdout.decode()
        assert "paho" not in ldd, ldd
        syms = subprocess.run(["nm", path], capture_output=True, check=True).stdout.decode().splitlines()
        assert not [s for s in syms if "MQTTClient_" in s or "MQTTAsync_" in s or "MQTTProperties_" in s]
        assert not [s for s in syms if s.split()[-1] == "connect" and s.split()[-2] in ("T", "W")]


def test_openssl_and_libcoap_are_loaded_only_by_a_run_that_needs_them():
    """No tool links OpenSSL or libcoap: m2mkit-ssl.so brings them when TLS, a WebSocket or CoAP is
    used (#18: mapping libssl and libcrypto cost every start ~1.3 ms). --version names the OpenSSL."""
    for t in TOOLS:
        path = os.path.join(BUILD, "tools", t)
        ldd = subprocess.run(["ldd", path], capture_output=True, check=True).stdout.decode()
        for lib in ["libssl", "libcrypto", "libcoap"]:
            assert lib not in ldd, f"{t}: {ldd}"
    loaded = lambda *argv: subprocess.run([os.path.join(BUILD, "tools", "iot-pub"), *argv], capture_output=True,
                                          env=dict(os.environ, LD_DEBUG="files")).stderr.decode()
    assert "m2mkit-ssl.so" not in loaded("--help") and "libssl" not in loaded("--help")
    files = loaded("--version")
    assert "m2mkit-ssl.so" in files and "libssl.so.3" in files and "libcrypto.so.3" in files, files


def test_a_tool_without_its_module_says_so_and_still_speaks_plain_mqtt(tmp_path):
    """A tool copied away from m2mkit-ssl.so: TLS, WebSockets and CoAP fail with a clear error that
    names the module and where it was looked for; nothing else needs it."""
    shutil.copy(os.path.join(BUILD, "tools", "iot-pub"), tmp_path / "iot-pub")
    tool = str(tmp_path / "iot-pub")
    for target in ["mqtts://127.0.0.1:1", "ws://127.0.0.1:1", "coap://127.0.0.1:1/x"]:
        topic = [] if target.startswith("coap") else ["-t", "x"]
        r = subprocess.run([tool, target, *topic, "-m", "hi"], capture_output=True, timeout=30)
        err = r.stderr.decode()
        assert r.returncode == 1, (target, r.returncode, err)
        assert "m2mkit-ssl.so" in err and "cannot be loaded" in err and str(tmp_path) in err, err
    r = subprocess.run([tool, "--version"], capture_output=True, timeout=30)
    assert r.returncode == 0 and b"OpenSSL: not loadable" in r.stdout, r.stdout
    r = subprocess.run([tool, "mqtt://127.0.0.1:1", "-t", "x", "-m", "hi", "--connect-timeout", "1s"],
                       capture_output=True, timeout=30)
    assert r.returncode == 4 and b"m2mkit-ssl" not in r.stderr, r.stderr  # refused: no broker there
