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
        "words (\"not authorised\", \"TLS: certificate verify failed\").\n\n"
        "mosquitto_sub's flags mean what they mean there: -v prints 'topic payload' lines, -F FORMAT its "
        "format codes byte for byte, -N drops the newline, -T hides a filter's messages, -E exits once "
        "subscribed, -R and --retained-only skip or keep retained messages, --remove-retained clears them. "
        "-v is not verbose in m2mkit: that is --verbose (repeat for more), in every tool.\n\n"
        "Sparkplug B: a message on spBv1.0/GROUP/TYPE/NODE[/DEVICE] (not spBv1.0/STATE) is decoded from "
        "its protobuf into a json payload -- timestamp, seq, and metrics with name, alias, datatype and "
        "value -- which iot-pub encodes back to the same bytes. A payload that does not decode is printed "
        "as b64 with err naming what is wrong, warned about, and counted in bad_frames. --decode none "
        "keeps every payload as it is.",
        {{"iot-sub mqtt://localhost -t 'plant/#'", "Print everything under plant/."},
         {"iot-sub mqtt://broker/plant/+/temp -C 1 -W 10s", "Wait up to 10 s for one temperature reading."},
         {"iot-sub mqtts://broker:8883 --cafile ca.pem -u ops --password-file pw -t 'alarm/#' | m2m-send "
          "serial:/dev/ttyUSB0",
          "Forward alarms from a TLS broker to a serial device."},
         {"iot-sub -V 5 -t '$share/workers/jobs/#' -q 1", "One of a group of workers sharing the jobs."},
         {"iot-sub -t 'sensors/#' -F '%I %t %p'", "mosquitto_sub's output, for scripts written for it."},
         {"iot-sub -t 'plant/#' --retained-only --remove-retained -W 2s",
          "Clear every retained message under plant/."},
         {"iot-sub -t 'spBv1.0/#' -q 1", "Watch a Sparkplug B network, every payload decoded."}}};
    doc.libraries = &m2m::mqtt_client_version;
    CLI::App app;
    m2m::add_mqtt_options(app, args.mqtt, "subscribe at");
    auto* broker = app.get_option("BROKER");
    broker->description(broker->get_description() +
                        "; or coap://HOST[:PORT]/PATH: a CoAP resource, read once or with --observe");
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
    app.add_option("-T,--filter-out", args.hide,
                   "Do not print messages whose topic matches this filter (repeatable; as mosquitto_sub -T)")
        ->option_text("FILTER")
        ->group("Subscription");
    app.add_option("-U,--unsubscribe", args.unsub,
                   "Unsubscribe from this filter at connect (repeatable; as mosquitto_sub -U): with -c -i, "
                   "ends what a persistent session kept; alone (no -t), exits 0 once acknowledged")
        ->option_text("FILTER")
        ->group("Subscription");
    app.add_flag("-E,--exit-after-subscribe", args.exit_after_subscribe,
                 "Exit (0) once the subscriptions are acknowledged: a session made for later (with -c -i)")
        ->group("Subscription");
    app.add_flag("--remove-retained", args.remove_retained,
                 "Clear each retained message received (publish an empty retained message to its topic); "
                 "with --retained-only, clears what a filter holds and exits")
        ->group("Subscription");
    const char* mo = "mosquitto_sub output";
    app.add_flag("-v,--topic-payload", args.topic_payload,
                 "Print 'topic payload' lines, as mosquitto_sub -v (stderr detail is --verbose)")
        ->group(mo);
    app.add_option("-F,--mosquitto-format", args.format,
                   "Print each message as mosquitto_sub -F FORMAT does, byte for byte: %t topic, %p payload, "
                   "%x %X hex, %l length, %q QoS, %r retain, %m message id, %j %J JSON, %I %U time, MQTT 5 "
                   "%A %C %D %E %F %P %R %S, @X strftime, @N nanoseconds, \\n \\t \\0 escapes; flags - 0, "
                   "widths %10t, %-10.10t")
        ->option_text("FORMAT")
        ->group(mo);
    app.add_flag("-N,--no-newline", args.no_newline, "With -v or -F: no newline after each message")
        ->group(mo);
    app.add_flag("--observe", args.observe,
                 "coap://HOST/PATH: observe the resource (RFC 7641), a record per notification; without it, "
                 "one GET")
        ->group("Subscription");
    app.add_option(
           "--decode", args.decode,
           "Payloads to decode: auto (Sparkplug B on spBv1.0/ topics), sparkplug (every message), none")
        ->check(CLI::IsMember({"auto", "sparkplug", "none"}))
        ->capture_default_str()
        ->group("Subscription");
    m2m::cli::add_psk_options(app, args.psk_identity, args.psk_key_file);
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "messages printed");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_sub(args); });
}
