#pragma once
#include "apps/pub/http.hpp"
#include "cli/options.hpp"
#include "mqtt/options.hpp"
#include <memory>

namespace m2m {

struct PubArgs {
    MqttArgs mqtt;
    std::string topic; // template over record fields: plant/{dev}/{ch}
    int qos = -1;      // -1: the BROKER URI's ?qos=, else 0
    bool retain = false;
    bool whole = false;
    std::string encode = "auto"; // auto (Sparkplug B for json payloads on spBv1.0/ topics) | sparkplug | none
    bool raw = false;
    std::string message;
    bool has_message = false;
    std::string file;
    bool null_message = false;
    bool stdin_message = false; // -s: all of stdin is one message
    int repeat = 1;             // --repeat N: the single message N times
    std::string repeat_delay;   // --repeat-delay DUR between them
    size_t max_line = 1 << 20;
    int max_inflight = 100; // QoS 1/2 messages in flight (bench_mqtt: 100 delivers more than 20 at QoS 1)
    // QoS 2 messages in flight: mosquitto 2.0 drops (or disconnects for) QoS 2 messages beyond its
    // max_inflight_messages, 20 by default; an explicit --max-inflight sets both
    int max_inflight_qos2 = 20;
    size_t buffer = 100000;
    std::string persist;
    std::string persist_sync = "batch"; // batch | message | off (see mqtt/journal.hpp)
    // MQTT 5 properties for every message (a record's own "props" win)
    std::string content_type, response_topic, correlation_data, message_expiry;
    int topic_alias = 0;
    std::vector<std::string> user_props; // KEY=VALUE
    bool rr = false;
    std::string reply_timeout;              // --rr: how long each reply may take (empty: until --timeout)
    bool coap_non = false;                  // coap://: NON requests, not CON
    std::string psk_identity, psk_key_file; // coaps://
    HttpArgs http;                          // an http:// or https:// endpoint
    cli::OutputArgs output;
    cli::LimitArgs limits;
    cli::CommonArgs common;
};

Expected<Exit> run_pub(const PubArgs& a);

/// How the shared publishing options read in a tool.
struct PublishOptionsFor {
    const char* endpoint; // what the defaults come from: "BROKER", "TARGET"
    const char* messages_group;
    const char* flow_group;
    const char* buffer_help;
};
/// -t -q --retain --whole --max-inflight --buffer, as iot-pub and replay's broker TARGET share them.
void add_publish_options(CLI::App& app, PubArgs& a, const PublishOptionsFor& f);

class EventLoop;
struct RunStats;
class LineSink;
/// replay's broker TARGET: iot-pub's publishing, fed by replay (see app/replay.hpp).
Expected<std::unique_ptr<LineSink>> open_broker_sink(const PubArgs& a, const std::string& target,
                                                     EventLoop& loop, RunStats& stats);

} // namespace m2m
