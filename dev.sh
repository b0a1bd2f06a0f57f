#!/usr/bin/env bash
# m2mkit developer entry point: the README's two quick-start commands and the rest.
#   ./dev.sh demo    install what is missing, build, run the live demo (virtual device -> m2m-listen)
#   ./dev.sh test    install what is missing, check the formatting, build, run every test: unit +
#                    integration, again under ASan+UBSan, then each fuzzer briefly (what CI runs)
#   ./dev.sh bench   benchmarks side by side with the peers, as ratios
#   ./dev.sh tidy    the .clang-tidy checks over libcore (part of test)
#   ./dev.sh docs    regenerate man/ and completions/ from the CLI definitions
#   ./dev.sh package build the Debian package (build/m2mkit_*.deb)
set -euo pipefail
cd "$(dirname "$0")"
JOBS=$(nproc)
FUZZ_SECONDS=${FUZZ_SECONDS:-6}

PACKAGES=(g++ cmake ninja-build pkg-config git libcli11-dev libserialport-dev libfmt-dev catch2 libsimdjson-dev
          zlib1g-dev libssl-dev mosquitto mosquitto-clients openssl
          python3 python3-pytest man-db clang-16 libclang-rt-16-dev socat dpkg-dev file
          python3-pymodbus python3-serial-asyncio python3-paho-mqtt python3-junitparser clang-format-16 strace mbpoll libtomlplusplus-dev chromium tmux python3-prometheus-client clang-tidy-16
          libcurl4-openssl-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler python3-protobuf
          libcoap3-dev libcoap3-bin)

deps() { # the packages named, or PACKAGES
    local missing=() wanted=("$@")
    [ $# -gt 0 ] || wanted=("${PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

peers() { # aedes, the second broker of the interop tests, from the npm registry (pinned by its lock file)
    [ -x tests/peers/aedes/node_modules/.bin/aedes ] && return
    command -v npm >/dev/null || deps nodejs npm
    (cd tests/peers/aedes && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

configure() { # DIR, then cmake options
    local dir=$1; shift
    cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}

build_release() {
    configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DM2MKIT_WERROR=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    cmake --build build -j "$JOBS"
}

demo() {
    deps
    build_release
    DEMO_DIR=$(mktemp -d)
    local port
    pids="" # global: the EXIT trap runs after this function has returned
    trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$DEMO_DIR"' EXIT
    # 1. a local mosquitto on a free loopback port
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$DEMO_DIR/mosquitto.conf"
    mosquitto -c "$DEMO_DIR/mosquitto.conf" 2>"$DEMO_DIR/mosquitto.log" & pids="$pids $!"
    # 2. a simulated Modbus energy meter (pymodbus) on a pty, its values drifting
    /usr/bin/python3 fixtures/devices/modbus_meter.py --pty "$DEMO_DIR/meter" --animate >"$DEMO_DIR/meter.out" 2>&1 &
    pids="$pids $!"
    for _ in $(seq 500); do grep -q ready "$DEMO_DIR/meter.out" 2>/dev/null && break; sleep 0.02; done
    grep -q ready "$DEMO_DIR/meter.out" || { cat "$DEMO_DIR/meter.out" >&2; exit 1; }
    # 3. the gateway: polls the meter from its register map, publishes decoded values
    build/tools/bridge "serial:$DEMO_DIR/meter" "mqtt://127.0.0.1:$port" --framing modbus-rtu \
        --map fixtures/devices/meter-map.toml --status-topic demo/status & pids="$pids $!"
    # 4. an application: watch the readings arrive (60 messages, about ten seconds)
    echo "dev.sh: mosquitto on 127.0.0.1:$port, a Modbus meter on $DEMO_DIR/meter, bridge polling it;" \
         "showing m2m/# (Ctrl-C stops everything)" >&2
    build/tools/iot-sub "mqtt://127.0.0.1:$port" -t 'm2m/#' -t demo/status -C 60 -W 60s
}

run_fuzzers() {
    configure build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 -DM2MKIT_FUZZ=ON
    local targets
    targets=$(cd tests/fuzz && { echo fuzz_record; echo fuzz_wire; echo fuzz_modbus_values; echo fuzz_console; echo fuzz_websocket; echo fuzz_sparkplug; sed -n 's/^set(FUZZ_FRAMINGS \(.*\))/\1/p' CMakeLists.txt | tr ' ' '\n' | sed 's/^/fuzz_/; s/:/_/g'; })
    # shellcheck disable=SC2086
    cmake --build build-fuzz -j "$JOBS" --target $targets
    local failed=0 corpus
    for t in $targets; do
        corpus=$(mktemp -d)
        [ "$t" = fuzz_record ] && cp tests/fuzz/corpus/record/* "$corpus"/
        if build-fuzz/tests/fuzz/$t -max_total_time="$FUZZ_SECONDS" -max_len=512 -print_final_stats=0 -artifact_prefix=build-fuzz/ \
               "$corpus" >"build-fuzz/$t.log" 2>&1; then
            echo "fuzz: $t ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build-fuzz/$t.log" | grep -o '[0-9]*$' || grep -oE '#[0-9]+' "build-fuzz/$t.log" | tail -1) runs)"
        else
            echo "fuzz: $t FAILED"; tail -30 "build-fuzz/$t.log"; failed=1
        fi
        rm -rf "$corpus"
    done
    return $failed
}

check_format() { # the committed sources are what clang-format makes of them (.clang-format)
    # shellcheck disable=SC2046
    clang-format-16 --dry-run --Werror $(git ls-files '*.cpp' '*.hpp') || {
        echo "dev.sh: clang-format differs (run: clang-format-16 -i \$(git ls-files '*.cpp' '*.hpp'))" >&2
        return 1
    }
    echo "dev.sh: clang-format ok"
}

tidy() { # .clang-tidy's checks over libcore (tools/ holds only thin mains), on the release build's compile commands
    # clang 16 reads C++23 as c++2b, and libstdc++ 12 offers <expected> only to a compiler that
    # says concepts are C++20's final version (202002), which clang 16 does not yet
    run-clang-tidy-16 -p build -quiet -j "$JOBS" -extra-arg=-std=c++2b -extra-arg=-Wno-builtin-macro-redefined \
        -extra-arg=-U__cpp_concepts -extra-arg=-D__cpp_concepts=202002L "$(pwd)/libcore/" >build/tidy.log 2>&1 || {
        grep -E -A3 'warning:|error:' build/tidy.log | head -60
        echo "dev.sh: clang-tidy found the above (build/tidy.log)" >&2
        return 1
    }
    echo "dev.sh: clang-tidy ok"
}

test_all() {
    deps
    peers
    check_format
    build_release
    tidy
    (cd build && ctest -j "$JOBS" --output-on-failure)
    configure build-asan -DCMAKE_BUILD_TYPE=Debug -DM2MKIT_SANITIZE=ON -DM2MKIT_WERROR=ON
    cmake --build build-asan -j "$JOBS"
    # test_install checks the installed layout and packaging, which the release pass covers
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -j "$JOBS" --output-on-failure \
        -E 'integration: test_install')
    run_fuzzers
    echo "dev.sh: all tests passed (release, ASan+UBSan, fuzzers)"
}

bench() {
    deps
    deps libpaho-mqtt-dev time # Paho's async client (a peer in bench_connect); GNU time (peak RSS)
    build_release
    tests/bench/run build
}

case "${1:-}" in
demo) demo ;;
test) test_all ;;
bench) bench ;;
fuzz) deps; run_fuzzers ;;
peers) peers ;;
format) deps; check_format ;;
tidy) deps; build_release; tidy ;;
docs) build_release; scripts/gen-docs build/tools ;;
package) deps; build_release; (cd build && cpack) ;;
*) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
