// iot-sub: subscribe to an MQTT broker and print one record per message.
#include "apps/sub/sub.hpp"
#include "cli/tool.hpp"
#include "mqtt/client.hpp"

int main(int argc, char** argv) {
    m2m::SubArgs args;
    m2m::cli::ToolDoc doc{
        "iot-sub",
        "subscribe to an MQTT broker and print each message as a record",
        "iot-sub subscribes to one or more topic filters (-t, repeatable, or the topic in BROKER) and "
        "prints one record per message: ts (taken on arrival), src, seq, topic, qos, retain, props (MQTT 5 "
        "properties) and the payload. With --payload auto (the default) the payload is \"json\" when it is "
        "compact JSON, \"text\" when it is valid UTF-8, and \"b64\" otherwise, so binary payloads arrive "
        "intact and iot-pub publishes every record back as the same bytes.\n\n"
        "On a terminal the records are shown in a human view. -C, -W and --until make iot-sub a CI "
        "assertion: wait for N messages, for a payload that matches, or fail with 124 after a timeout.\n\n"
        "A lost connection is re-established with backoff and the subscriptions are made again; with -c "
        "and a fixed -i the broker keeps the session and the QoS 1/2 messages that arrive meanwhile. A "
        "broker that cannot be reached or refuses the connection at start is exit 4 with the reason in "
        "words (\"not authorised\", \"TLS: certificate verify failed\").",
        {{"iot-sub mqtt://localhost -t 'plant/#'", "Print everything under plant/."},
         {"iot-sub mqtt://broker/plant/+/temp -C 1 -W 10s", "Wait up to 10 s for one temperature reading."},
         {"iot-sub mqtts://broker:8883 --cafile ca.pem -u ops --password-file pw -t 'alarm/#' | m2m-send "
          "serial:/dev/ttyUSB0",
          "Forward alarms from a TLS broker to a serial device."},
         {"iot-sub -V 5 -t '$share/workers/jobs/#' -q 1", "One of a group of workers sharing the jobs."}}};
    doc.libraries = m2m::mqtt_client_version();
    CLI::App app;
    m2m::add_mqtt_options(app, args.mqtt, "subscribe at");
    app.add_option("-t,--topic", args.topics,
                   "Topic filter to subscribe to (repeat for several; + and # wildcards, "
                   "$share/GROUP/... shared subscriptions)")
        ->group("Subscription");
    m2m::cli::choices(
        app.add_option("-q,--qos", args.qos, "QoS to subscribe with (default 0, or BROKER's ?qos=)"),
        {"0", "1", "2"})
        ->group("Subscription");
    app.add_flag("--no-local", args.no_local, "MQTT 5: do not receive this client's own messages")
        ->group("Subscription");
    app.add_flag("-R,--ignore-retained", args.ignore_retained,
                 "Do not print retained messages (the stale ones the broker sends on subscribing)")
        ->group("Subscription");
    app.add_flag("--retained-only", args.retained_only,
                 "Print only retained messages and exit at the first live one (use with -W)")
        ->group("Subscription");
    app.add_option("--max-message", args.max_message,
                   "Skip messages whose payload is over BYTES without holding them in memory; each one is "
                   "counted (over_max_message in --stats) and warned about, and a QoS 1/2 one is still "
                   "acknowledged (default: no limit)")
        ->option_text("BYTES")
        ->check(m2m::cli::at_least_one())
        ->group("Subscription");
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "messages printed");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_sub(args); });
}
