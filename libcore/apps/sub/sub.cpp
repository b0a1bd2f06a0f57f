#include "apps/sub/sub.hpp"
#include "apps/sub/coap_sub.hpp"
#include "apps/sub/format.hpp"
#include "coap/coap.hpp"
#include "mqtt/props.hpp"
#include "mqtt/session.hpp"
#include "mqtt/topic.hpp"
#include "runtime/frame_records.hpp"
#include "sparkplug/sparkplug.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace m2m {

Expected<Exit> run_sub(const SubArgs& a) {
    if (coap::is_endpoint(a.mqtt.broker)) return run_coap_sub(a);
    Uri uri;
    auto cfg = resolve_mqtt(a.mqtt, "iot-sub", uri);
    if (!cfg) return std::unexpected(cfg.error());
    cfg->max_message = a.max_message;
    std::vector<std::string> filters = a.topics;
    if (!uri.path.empty()) filters.insert(filters.begin(), uri.path);
    if (filters.empty() && a.unsub.empty())
        return fail(Exit::usage, "no topic: give -t FILTER (or BROKER/FILTER), or -U FILTER to unsubscribe");
    for (auto& f : a.unsub)
        if (auto st = check_filter(f); !st) return fail(Exit::usage, "-U: " + st.error().message);
    auto uri_qos = uri_number(uri, "qos", 0, 0, 2);
    if (!uri_qos) return std::unexpected(uri_qos.error());
    int qos = a.qos >= 0 ? a.qos : *uri_qos;
    if (qos < 0 || qos > 2) return fail(Exit::usage, fmt::format("bad QoS {}: use 0, 1 or 2", qos));
    if (a.no_local && cfg->version != 5) return fail(Exit::usage, "--no-local needs MQTT 5 (-V 5)");
    if (a.retained_only && a.ignore_retained)
        return fail(Exit::usage, "--retained-only and --ignore-retained exclude each other");
    for (auto& f : filters)
        if (f.empty()) return fail(Exit::usage, "an empty topic filter");
    std::optional<MqttFormat> mformat;
    if (!a.format.empty() && a.topic_payload) return fail(Exit::usage, "-v and -F exclude each other");
    if (!a.format.empty() || a.topic_payload) {
        auto f = MqttFormat::parse(a.topic_payload ? "%t %p" : a.format);
        if (!f) return std::unexpected(f.error());
        mformat = std::move(*f);
    } else if (a.no_newline) {
        return fail(Exit::usage, "-N goes with -v or -F (records are lines)");
    }
    for (auto& f : a.hide)
        if (auto st = check_filter(f); !st) return fail(Exit::usage, "-T: " + st.error().message);

    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, a.output, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    PayloadStyle style =
        recorder.style() == PayloadStyle::auto_ ? PayloadStyle::auto_message : recorder.style();
    MqttSession session(loop, *cfg, !a.mqtt.no_reconnect, stats);
    session.coalesce_reads(true);
    std::vector<MqttClient::Subscription> subs;
    for (auto& f : filters)
        subs.push_back({f, qos, a.no_local, false, a.ignore_retained && cfg->version == 5 ? 2 : 0});
    std::string src = cfg->src();
    uint64_t skipped_retained = 0;

    session.on_up = [&]() -> Status {
        if (!a.unsub.empty()) { // first, so that a -t of the same filter subscribes afresh
            if (auto st = session.client().unsubscribe(a.unsub); !st) return st;
            log::info("unsubscribed from {}", fmt::join(a.unsub, ", "));
            if (filters.empty()) {
                loop.stop(Exit::ok);
                return {};
            }
        }
        if (auto st = session.client().subscribe(subs); !st) return st;
        log::info("subscribed to {}", fmt::join(filters, ", "));
        if (a.exit_after_subscribe) loop.stop(Exit::ok);
        return {};
    };
    std::string line, why;
    Record r;
    bool bare = recorder.bare();
    auto to_record = [&](const MqttArrival& m, int64_t now) {
        r.clear();
        r.ts = format_rfc3339(now);
        r.src = src;
        r.topic = std::string(m.topic);
        r.qos = m.qos;
        r.retain = m.retain;
        r.props_raw = props_to_json(m.props);
        if (a.decode == "sparkplug" || (a.decode == "auto" && sparkplug::is_payload_topic(m.topic))) {
            if (auto j = sparkplug::to_json(m.payload)) {
                r.kind = PayloadKind::json;
                r.payload = std::move(*j);
                return;
            } else { // kept as it came, with what is wrong
                set_payload(r, std::string(m.payload), PayloadStyle::b64, PayloadKind::b64);
                r.err = j.error().message; // counted in bad_frames when printed
                log::warn("message on {}: {} (printed as b64 with err; counted in bad_frames)", m.topic,
                          j.error().message);
                return;
            }
        }
        set_payload(r, std::string(m.payload), style, PayloadKind::b64);
    };
    session.on_message = [&](const MqttArrival& m) {
        if (loop.stopped()) return;
        if (m.oversize) {
            ++stats.drops["over_max_message"];
            return log::warn("{}: message of {} bytes is over --max-message {}; skipped (counted as "
                             "over_max_message)",
                             m.topic, m.oversize, a.max_message);
        }
        if (a.remove_retained && m.retain) // an empty retained message clears the topic
            (void)session.client().publish(m.topic, {}, 1, true, nullptr);
        if (a.ignore_retained && m.retain) return void(++skipped_retained);
        if (a.retained_only && !m.retain) return loop.stop(Exit::ok);
        for (auto& f : a.hide)
            if (topic_matches(f, m.topic)) return;
        if (mformat) { // mosquitto_sub's output
            line.clear();
            if (a.topic_payload && m.payload.empty()) // as mosquitto_sub -v shows an empty message
                line.append(m.topic).append(" (null)");
            else if (!mformat->render(m, m.id, wall_us() * 1000, line, why))
                log::write("", why);
            if (!a.no_newline) line += '\n';
            if (recorder.logging()) {
                int64_t now = wall_us();
                to_record(m, now);
                recorder.log_only(r, now);
            }
            return recorder.emit_formatted(line);
        }
        if (bare) return recorder.emit_payload(m.payload); // --format raw: no record to build
        int64_t now = wall_us();
        to_record(m, now);
        recorder.emit(r, now);
    };
    session.on_serviced = [&] { recorder.flush(); };
    if (auto st = session.start(); !st) return std::unexpected(st.error()); // 4: unreachable or refused
    recorder.arm_timeout();
    loop.run();
    recorder.flush();
    session.client().disconnect();
    if (skipped_retained) log::info("{} retained message(s) not shown (--ignore-retained)", skipped_retained);
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    auto result = loop.result();
    if (result && *result == Exit::timeout) log::info("timed out after {} message(s)", stats.records_out);
    return result;
}

} // namespace m2m
