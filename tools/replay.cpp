// replay: re-emit a recording with its timing, or serve a capture as a simulated device.
#include "apps/replay/replay.hpp"
#include "apps/pub/pub.hpp"
#include "cli/tool.hpp"
#include "mqtt/client.hpp"

int main(int argc, char** argv) {
    m2m::ReplayArgs args;
    m2m::PubArgs pub; // a broker TARGET: published as iot-pub would
    m2m::cli::ToolDoc doc{
        "replay",
        "re-emit recorded records with their original timing, or serve a capture as a simulated device",
        "replay reads recordings (JSON Lines from m2m-listen, iot-sub or bridge, as they are) and writes "
        "each record again with the spacing its ts fields had: to stdout (so it pipes into iot-pub or "
        "m2m-send), or, when the last argument is an endpoint (pty:, serial:, tcp://, udp://, file:), "
        "framed to that link. Deadlines are absolute (the start plus the recorded offset divided by "
        "--speed), so a long replay does not drift; --stats reports how late records went out (max, "
        "p99).\n\n"
        "When TARGET is a broker (mqtt://HOST/TOPIC or mqtts://...), each record is published as "
        "iot-pub would publish it, on time: the topic is --topic (or TARGET's), a template over the "
        "record's fields, else the record's own topic field; the message is the record's payload (or the "
        "whole line with --whole); a record's qos, retain and props win over the flags. QoS 1 and 2 "
        "messages are pipelined (--max-inflight), the connection comes back after a loss, and records "
        "wait in a bounded buffer (--buffer) meanwhile; when it is full the replay waits, and --stats "
        "shows how late that made it. replay ends once every message is acknowledged.\n\n"
        "--speed X replays X times faster (0: as fast as possible); --rate N/s ignores the recorded "
        "timing and sends N records per second in total; --loop N|inf repeats (each lap starts one mean "
        "interval after the last record); --from and --to keep a window, each a duration from the "
        "recording's start (90s) or an RFC 3339 time; --rebase stamps each record with the time it goes "
        "out; --jitter DUR moves each record by up to plus or minus DUR (never out of order). --raw reads "
        "plain text or CSV lines, with --ts-column N naming the column that holds the time (RFC 3339 or "
        "epoch seconds). A line that is not a valid record (or longer than --max-line) is named by file "
        "and line, counted as bad_records and skipped, so a recording cut short by a crash still replays; "
        "--strict makes it fatal (exit 3).\n\n"
        "--serve CAPTURE LINK is a simulated device: it listens on LINK (typically pty:/tmp/dev) and "
        "answers each frame that matches a recorded tx record with the rx records that follow it in the "
        "capture. A tx record matches on its payload exactly, or on a \"match\" field: hex with .. for "
        "any byte, for sequence numbers and the like. Unmatched requests are logged and counted "
        "(--stats).\n\n"
        "--serve-map MAP LINK is a simulated Modbus device built from a register map (the TOML of bridge "
        "--map): each [[device]] is a unit holding its values' registers, coils and inputs, starting at "
        "each value's `value =` (default 0) encoded as its type, order and scale say. It answers Modbus RTU "
        "(--framing modbus-rtu, on a pty or serial port) or Modbus TCP (--framing modbus-tcp, "
        "tcp-listen://): reads, "
        "writes (fc 5, 6, 15, 16), exception 2 for an address the map does not have, exception 1 for other "
        "functions, silence for a unit not in the map. Commands on stdin, one JSON object per line: "
        "{\"set\":{\"voltage\":231.2},\"device\":\"meter\"} changes values by name; "
        "{\"fault\":KIND,\"count\":N} or {\"fault\":KIND,\"for\":\"2s\"} makes the next N requests (or "
        "those in the next 2 s; \"unit\" picks one) fail: silence (no answer), exception (\"code\", default "
        "4), bad_crc (a corrupted answer), delay (\"delay\":\"500ms\", a late answer); {\"fault\":\"none\"} "
        "clears it. A bad command is named by its line and counted.",
        {{"replay fixtures/demo-sensor.jsonl --speed 10 mqtt://localhost/test/{dev} -q 1",
          "Replay a capture ten times faster into a broker, at QoS 1."},
         {"replay day.jsonl --rate 100/s | iot-pub -t test/x --whole",
          "The same through a pipe: any tool can take replay's output."},
         {"replay day.jsonl --from 2h --to 3h --rate 50/s pty:/tmp/dev --framing crlf",
          "Play one hour of a recording to a virtual serial device at 50 records/s."},
         {"replay --serve fixtures/devices/meter-capture.jsonl pty:/tmp/meter --framing modbus-rtu",
          "A Modbus meter from a capture, for CI without hardware."},
         {"replay --serve-map fixtures/devices/meter-map.toml pty:/tmp/meter --framing modbus-rtu",
          "A Modbus meter from its register map; then echo '{\"fault\":\"silence\",\"for\":\"5s\"}' on its "
          "stdin."}}};
    CLI::App app;
    doc.libraries = &m2m::mqtt_client_version;
    m2m::cli::completes(
        app.add_option("FILE", args.args,
                       "Recordings to replay, then optionally TARGET: a link to write to, or a "
                       "broker to publish to (default: stdout)")
            ->required(),
        "file");
    const char* t = "Timing";
    app.add_option("--speed", args.speed, "Replay X times as fast (0: as fast as possible)")
        ->capture_default_str()
        ->group(t);
    app.add_option("--rate", args.rate, "Ignore recorded timing: N records per second in total (N or N/s)")
        ->group(t);
    app.add_option("--loop", args.loop, "Play the recording N times, or inf")
        ->capture_default_str()
        ->group(t);
    app.add_option("--from", args.from,
                   "Start of the window: DUR from the recording's start, or an RFC 3339 time")
        ->group(t);
    app.add_option("--to", args.to, "End of the window (exclusive), as --from")->group(t);
    app.add_flag("--rebase", args.rebase, "Stamp each record with the time it goes out")->group(t);
    app.add_option(
           "--set", args.set,
           "Add the field KEY=VALUE to every record replayed to stdout or a broker (repeatable), over a "
           "field of the same name; VALUE is JSON when it reads as JSON, else a string")
        ->option_text("KEY=VALUE")
        ->group(t);
    app.add_option("--jitter", args.jitter, "Move each record by up to +-DUR")->option_text("DUR")->group(t);
    const char* i = "Input";
    app.add_flag("-l,--raw", args.raw, "Recordings are plain lines (text or CSV), not records")->group(i);
    app.add_option("--ts-column", args.ts_column, "With --raw: the 1-based CSV column holding the time")
        ->group(i);
    app.add_option("--max-line", args.max_line,
                   "Longest recording line in bytes; longer ones are reported and skipped")
        ->capture_default_str()
        ->group(i);
    app.add_flag("--serve", args.serve,
                 "Serve CAPTURE on LINK as a simulated device (replay --serve CAPTURE LINK)")
        ->group("Simulated device");
    m2m::cli::completes(
        app.add_option("--serve-map", args.serve_map,
                       "Serve a Modbus device holding MAP's registers on LINK (replay --serve-map MAP LINK); "
                       "stdin takes {\"set\":{NAME:VALUE}} and {\"fault\":...} commands"),
        "file")
        ->option_text("MAP")
        ->group("Simulated device");
    m2m::cli::add_view_options(app, args.view);
    m2m::cli::add_log_option(app, args.view);
    m2m::cli::add_framing_options(app, args.framing);
    m2m::cli::add_no_lock_option(app);
    const char* b = "Broker target (mqtt://, mqtts://)";
    m2m::add_publish_options(
        app, pub, {"TARGET", b, b, "Records held while the broker is away or slow; then the replay waits"});
    m2m::add_mqtt_options(app, pub.mqtt, "publish to", m2m::session | m2m::will | m2m::trace);
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] {
        pub.raw = args.raw;
        pub.common = args.common;
        args.broker = [&](const std::string& target, m2m::EventLoop& loop, m2m::RunStats& stats) {
            return m2m::open_broker_sink(pub, target, loop, stats);
        };
        return m2m::run_replay(args);
    });
}
