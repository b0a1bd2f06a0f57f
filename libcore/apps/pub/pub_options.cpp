// The publishing options iot-pub and replay's broker TARGET share, defined once.
#include "apps/pub/pub.hpp"

namespace m2m {

void add_publish_options(CLI::App& app, PubArgs& a, const PublishOptionsFor& f) {
    std::string ep = f.endpoint;
    app.add_option("-t,--topic", a.topic,
                   "Topic, or a template over record fields: plant/{dev}/{ch} (default: " + ep +
                       "'s topic, else each record's topic field)")
        ->group(f.messages_group);
    cli::choices(
        app.add_option("-q,--qos", a.qos,
                       "QoS, over a record's qos field (without it or ?qos=: the record's qos, else 0)"),
        {"0", "1", "2"})
        ->group(f.messages_group);
    app.add_flag(
           "-r,--retain", a.retain,
           "Retain the messages, whatever a record's retain field says (without it: the record's retain, "
           "else not retained)")
        ->group(f.messages_group);
    app.add_option("--encode", a.encode,
                   "Payloads to encode: auto (a json payload on a spBv1.0/ topic as Sparkplug B), sparkplug "
                   "(every json payload), none")
        ->check(CLI::IsMember({"auto", "sparkplug", "none"}))
        ->capture_default_str()
        ->group(f.messages_group);
    app.add_flag("--whole", a.whole, "Publish each whole record line, not its payload")
        ->group(f.messages_group);
    add_max_inflight_option(app, a.max_inflight, a.max_inflight_qos2)->group(f.flow_group);
    app.add_option("--buffer", a.buffer, f.buffer_help)
        ->check(m2m::cli::at_least_one())
        ->capture_default_str()
        ->group(f.flow_group);
}

} // namespace m2m
