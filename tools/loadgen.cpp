// loadgen: simulated MQTT devices at a set rate, with an honest latency report.
#include "apps/loadgen/loadgen.hpp"
#include "cli/tool.hpp"
#include "mqttwire/tls.hpp"

int main(int argc, char** argv) {
    m2m::LoadgenArgs args;
    m2m::cli::ToolDoc doc{
        "loadgen",
        "simulated MQTT devices publishing at a set rate; throughput, loss and latency percentiles",
        "loadgen opens --devices MQTT connections to BROKER (paced by --connect-rate, at most 64 connects "
        "in flight), then each device publishes at --rate messages per second PER DEVICE (or --total-rate "
        "messages per second over ALL devices) for --duration, or --count messages per device. Topic and "
        "payload are templates: {dev} (the device number), {seq} (the message number, from 0), {ts} "
        "(epoch microseconds), {rand:N} (N random characters).\n\n"
        "Its own subscriber receives the messages and reads {dev} and {seq} back from the payload (else "
        "from the topic; with --payload-file and MQTT 5, from a user property m2m-loadgen=DEV/SEQ): "
        "latency is measured from each message's intended send time (its place in the schedule), so a "
        "stall in the sender counts against it instead of hiding (coordinated omission corrected); loss, "
        "duplicates and reordering are counted. Percentiles come from a log-linear histogram (under "
        "1.6 % error).\n\n"
        "At the end a text summary goes to stdout, with --json FILE a machine-readable one, and with "
        "--report FILE.html a self-contained page (throughput over time, the latency percentile curve, "
        "inline SVG, nothing fetched). --fail-if "
        "'p99>50ms' --fail-if 'loss>0' make the exit status 5 when a threshold is crossed (metrics: p50 "
        "p90 p99 p999 max loss duplicates reordered connect_failed refused rate). --shard K/N runs the K-th "
        "slice "
        "of the devices, and 'loadgen merge A.json B.json...' combines summaries by adding their "
        "histograms, so a run can span machines. A progress line is shown once a second on a terminal.\n\n"
        "The connections speak MQTT 3.1.1 or 5 (-V 5), plain or TLS (mqtts://, verified against --cafile or "
        "the system store unless --insecure), through libcore's own encoder and OpenSSL, not Paho: one "
        "process holds 10,000 connections and opens them about 5 times faster than Paho's async client "
        "(tests/bench). -u and --password-file (or M2MKIT_MQTT_PASSWORD) log every device in.",
        {{"loadgen mqtt://localhost --devices 200 --rate 10 --duration 5s -q 1",
          "200 devices, 10 msg/s each, for 5 s at QoS 1."},
         {"loadgen mqtt://broker --devices 1000 --total-rate 20000 --duration 30s --fail-if 'p99>50ms' "
          "--fail-if 'loss>0'",
          "A CI gate: 20,000 msg/s in total, fail on a slow p99 or any loss."},
         {"loadgen mqtts://broker -V 5 --cafile ca.pem --devices 100 --payload-file "
          "fixtures/demo-sensor.jsonl",
          "MQTT 5 over TLS, publishing a recording's payloads."},
         {"loadgen mqtt://broker --devices 10000 --shard 1/2 --json a.json; loadgen merge a.json b.json",
          "Half the devices from this machine; merge the halves."}}};
    doc.libraries = &m2m::wire::tls_library;
    CLI::App app;
    app.set_help_flag("--help", "Print this help message and exit");
    auto* merge = app.add_subcommand("merge", "Combine --json summaries (histograms added)");
    m2m::cli::completes(merge->add_option("FILE", args.merge, "Summaries written with --json")->required(),
                        "file");
    merge->add_option("--json", args.json, "Write the merged summary here");
    merge->add_option("--fail-if", args.fail_if, "Exit 5 when METRIC OP VALUE holds");
    merge->add_option("--junit", args.junit, "Write the --fail-if gates as a JUnit XML report here");
    merge->add_option("--report", args.report, "Write the merged HTML report here");
    merge->add_option("--metrics", args.metrics, "Write the merged summary as OpenMetrics text here");
    m2m::add_mqtt_options(app, args.mqtt, "load", m2m::broker_arg);
    const char* d = "Devices";
    app.add_option("--devices", args.devices, "Simulated devices (one MQTT connection each)")
        ->capture_default_str()
        ->group(d);
    app.add_option("--connect-rate", args.connect_rate, "New connections per second")
        ->capture_default_str()
        ->group(d);
    app.add_option("--shard", args.shard,
                   "Run the K-th of N slices of the devices (K/N); auto/N takes K from JOB_COMPLETION_INDEX "
                   "(0-based), as each pod of a Kubernetes Indexed Job has it (deploy/loadgen-job.yaml)")
        ->option_text("K/N")
        ->group(d);
    app.add_option("-i,--id-prefix", args.id_prefix, "Client ids are PREFIX-PID-DEV")
        ->capture_default_str()
        ->group(d);
    app.add_option("--source", args.source,
                   "Connect the devices from these local addresses in turn: a list and ranges "
                   "(127.0.0.1-127.0.0.8, or 127.0.0.1-8); each address holds ~64K connections to one broker")
        ->option_text("ADDRS")
        ->group(d);
    const char* m = "Messages";
    app.add_option("--rate", args.rate, "Messages per second PER DEVICE")->capture_default_str()->group(m);
    app.add_option("--total-rate", args.total_rate,
                   "Messages per second over ALL devices (instead of --rate)")
        ->group(m);
    app.add_option("--duration", args.duration, "How long the devices publish")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(m);
    app.add_option("-C,--count", args.count, "Messages per device (instead of --duration)")->group(m);
    m2m::cli::choices(app.add_option("-q,--qos", args.qos,
                                     "QoS of the messages (2: acknowledged at PUBCOMP, the subscriber "
                                     "completing each exchange too)"),
                      {"0", "1", "2"})
        ->capture_default_str()
        ->group(m);
    app.add_flag("-r,--retain", args.retain, "Retain the messages")->group(m);
    app.add_option("-t,--topic", args.topic,
                   "Topic template ({dev} {seq} {ts} {rand:N}; default: BROKER's topic, else loadgen/{dev})")
        ->group(m);
    auto* payload = app.add_option("--payload", args.payload,
                                   "Payload template ({dev} {seq} {ts} {rand:N}; any other { is literal, so "
                                   "JSON templates work)")
                        ->capture_default_str()
                        ->group(m);
    m2m::cli::completes(app.add_option("--payload-file", args.payload_file,
                                       "Records (JSON Lines) whose payloads each device publishes in turn, "
                                       "instead of --payload"),
                        "file")
        ->excludes(payload)
        ->group(m);
    app.add_option("--max-line", args.max_line,
                   "Longest --payload-file line in bytes; a longer one is an error")
        ->capture_default_str()
        ->group(m);
    const char* r = "Report";
    app.add_flag("--no-sub", args.no_sub, "No subscriber: publish only (no latency or loss)")->group(r);
    app.add_option("--subscribers", args.subscribers,
                   "Subscribers on the devices' topics (fan-out: each message is expected at every one; "
                   "delivery and latency counted per subscriber)")
        ->capture_default_str()
        ->group(r);
    app.add_option("--shared", args.shared,
                   "The subscribers share the subscription $share/GROUP/...: each message is expected at one "
                   "of them (MQTT 5 shared subscriptions)")
        ->option_text("GROUP")
        ->group(r);
    app.add_option("--drain", args.drain, "How long to wait for the last messages to arrive")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(r);
    m2m::cli::completes(app.add_option("--json", args.json, "Write the summary as JSON to FILE"), "file")
        ->group(r);
    app.add_option("--fail-if", args.fail_if, "Exit 5 when METRIC OP VALUE holds (p99>50ms, loss>0)")
        ->group(r);
    m2m::cli::completes(
        app.add_option("--junit", args.junit,
                       "Write each --fail-if gate as a JUnit XML testcase to FILE (failed when "
                       "it holds, with the measured value)"),
        "file")
        ->option_text("FILE")
        ->group(r);
    m2m::cli::completes(app.add_option("--report", args.report,
                                       "Write a self-contained HTML page (the PASS/FAIL verdict of the "
                                       "--fail-if gates, the run's parameters, throughput over time, latency "
                                       "percentiles, inline SVG) to FILE"),
                        "file")
        ->group(r);
    m2m::cli::completes(app.add_option("--metrics", args.metrics,
                                       "Write the summary as OpenMetrics text (Prometheus, a node exporter's "
                                       "textfile collector) to FILE"),
                        "file")
        ->option_text("FILE")
        ->group(r);
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&]() -> m2m::Expected<m2m::Exit> {
        if (merge->parsed()) return m2m::run_loadgen_merge(args);
        return m2m::run_loadgen(args);
    });
}
