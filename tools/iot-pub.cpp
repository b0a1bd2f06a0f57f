// iot-pub: read records on stdin and publish each to an MQTT broker.
#include "apps/pub/pub.hpp"
#include "cli/tool.hpp"
#include "mqtt/client.hpp"

int main(int argc, char** argv) {
    m2m::PubArgs args;
    m2m::cli::ToolDoc doc{
        "iot-pub",
        "publish records from stdin (or one message) to an MQTT broker",
        "iot-pub reads records (JSON Lines) on stdin and publishes each one. The topic is --topic (or the "
        "topic in BROKER), a template over the record's fields such as plant/{dev}/{ch}; without one, the "
        "record's own topic field. The message is the record's payload (json published as compact JSON, "
        "text as UTF-8, hex and b64 decoded to bytes), or the whole line with --whole. A record's qos and "
        "retain apply to that message unless -q (or ?qos=) or -r was given: what the user typed wins; its "
        "props (MQTT 5 properties) are added to those of the flags. -l/--raw publishes "
        "each stdin line as it is (as mosquitto_pub -l); -m, -f and -n publish one message.\n\n"
        "QoS 1 and 2 messages are pipelined: up to --max-inflight wait for their acknowledgement at once "
        "(capped by the broker's Receive Maximum under MQTT 5), and stdin is not read further while the "
        "window is full. When the connection is lost, iot-pub reconnects with backoff, keeps reading into a "
        "bounded buffer (--buffer messages; then stdin waits), and sends every unacknowledged message "
        "again (counted as resent; a subscriber may see it twice; QoS 0 messages it had not yet written "
        "are lost, counted in --stats as qos0_unsent). At the end of input it waits until "
        "every QoS 1/2 message is acknowledged, then disconnects; --stats reports published, acked, failed "
        "and resent.\n\n"
        "A line that is not a valid record, lacks a field the topic template needs, or names a topic "
        "with a wildcard is reported with its line number, counted and skipped; --strict makes it fatal "
        "(exit 3).\n\n"
        "--rr (MQTT 5) is request/response, as mosquitto_rr: each message carries a response topic and "
        "correlation data, and iot-pub waits for the reply and prints it as a record before sending the "
        "next. With --reply-timeout a request whose reply does not come in time is named on stderr, the "
        "next one goes, and the run exits 124.",
        {{"m2m-listen serial:/dev/ttyUSB0 --set dev=pump1 | iot-pub mqtt://localhost/plant/{dev}",
          "Publish every frame from a serial device under plant/pump1."},
         {"seq 1000 | iot-pub -l -t test/counter -q 1", "Publish 1000 lines at QoS 1."},
         {"iot-pub -t lamp/set -m on -q 1 -r", "Publish one retained message."},
         {"iot-pub -V 5 -t svc/time --rr -m now -W 5s", "Ask a service and print its reply."}}};
    doc.libraries = &m2m::mqtt_client_version;
    CLI::App app;
    m2m::add_mqtt_options(app, args.mqtt, "publish to");
    const char* g = "Messages";
    const char* f = "Flow";
    m2m::add_publish_options(app, args,
                             {"BROKER", g, f, "Messages held while the broker is away; then stdin waits"});
    app.add_flag("-l,--raw", args.raw, "Each stdin line is one message as it is (as mosquitto_pub -l)")
        ->group(g);
    app.add_option("-m,--message", args.message, "Publish this one message and exit")
        ->each([&](const std::string&) { args.has_message = true; })
        ->group(g);
    m2m::cli::completes(app.add_option("-f,--file", args.file, "Publish the content of FILE as one message"),
                        "file")
        ->group(g);
    app.add_flag("-n,--null-message", args.null_message, "Publish one empty message (clears a retained one)")
        ->group(g);
    app.add_flag("-s,--stdin-file", args.stdin_message,
                 "Publish all of stdin as one message (as mosquitto_pub -s)")
        ->group(g);
    app.add_option("--repeat", args.repeat, "Publish the one message (-m, -f, -s, -n) N times")
        ->option_text("N")
        ->check(CLI::Range(1, 1000000000))
        ->group(g);
    app.add_option("--repeat-delay", args.repeat_delay, "Wait DUR between the repeats (--repeat)")
        ->option_text("DUR")
        ->group(g);
    app.add_option("--max-line", args.max_line,
                   "Longest input line in bytes; longer ones are reported and skipped")
        ->capture_default_str()
        ->group(g);
    m2m::cli::completes(app.add_option("--persist", args.persist,
                                       "Journal QoS 1/2 messages in DIR until acknowledged (crash-safe: "
                                       "a restart of iot-pub sends again what was not; implies -c)"),
                        "file")
        ->group(f);
    m2m::add_persist_sync_option(app, args.persist_sync)->group(f);
    const char* p = "MQTT 5 properties";
    app.add_option("--content-type", args.content_type, "Content type of every message")->group(p);
    app.add_option("--response-topic", args.response_topic, "Response topic (with --rr: where replies come)")
        ->group(p);
    app.add_option("--correlation-data", args.correlation_data, "Correlation data")->group(p);
    app.add_option("--message-expiry", args.message_expiry, "Message expiry interval (DUR)")
        ->option_text("DUR")
        ->group(p);
    app.add_option("--topic-alias", args.topic_alias, "Topic alias (1..the broker's maximum)")->group(p);
    app.add_option("-D,--user-property", args.user_props, "User property KEY=VALUE (repeatable)")->group(p);
    app.add_flag("--rr", args.rr, "Request/response: wait for each message's reply and print it as a record")
        ->group(p);
    app.add_option(
           "--reply-timeout", args.reply_timeout,
           "--rr: how long each reply may take; none in time is named, the next request goes, and the "
           "run exits 124 (default: wait, bounded by --timeout)")
        ->option_text("DUR")
        ->group(p);
    auto* broker = app.get_option("BROKER");
    broker->description(
        broker->get_description() +
        "; or http://HOST[:PORT]/PATH, https://... to POST each message there, or coap://HOST[:PORT]/PATH "
        "to send it in a CoAP request (HTTP and CoAP options)");
    const char* h = "HTTP and CoAP (BROKER http://, https://, coap://)";
    app.add_option("-H,--header", args.http.headers,
                   "HTTP header 'Name: value' for every request (repeatable)")
        ->group(h);
    app.add_option("--batch", args.http.batch,
                   "Messages per request: with N > 1, a JSON array of them (JSON payloads as they are, text "
                   "as strings, bytes in base64)")
        ->option_text("N")
        ->capture_default_str()
        ->group(h);
    app.add_option("--batch-time", args.http.batch_time, "A batch not full goes after DUR")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(h);
    app.add_option("--retries", args.http.retries,
                   "Retries of a request that failed to connect or got 408, 429 or 5xx (backoff from 250 ms)")
        ->option_text("N")
        ->capture_default_str()
        ->group(h);
    app.add_option("--method", args.http.method,
                   "POST or PUT (for CoAP, a record's \"coap\":{\"method\",\"path\"} overrides it)")
        ->capture_default_str()
        ->group(h);
    app.add_flag("--non", args.coap_non,
                 "CoAP (coap://): send NON requests (not confirmed, not retransmitted), not CON")
        ->group(h);
    app.add_option("--request-timeout", args.http.request_timeout, "The most one request may take")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(h);
    m2m::cli::add_psk_options(app, args.psk_identity, args.psk_key_file);
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "records read");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_pub(args); });
}
