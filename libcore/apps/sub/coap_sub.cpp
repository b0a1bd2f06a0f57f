// iot-sub on a CoAP resource: one GET and its answer as a record, or with --observe (RFC 7641)
// every notification as a record until -C, -W, --until or Ctrl-C (the relation is then cancelled
// with the server). A record carries the payload (chosen as for MQTT messages), src, and a coap
// object: the response code ("2.05"), the Observe sequence number and the Content-Format.
#include "apps/sub/coap_sub.hpp"
#include "apps/sub/sub.hpp"
#include "coap/coap.hpp"
#include "loop/event_loop.hpp"
#include "records/record.hpp"
#include "runtime/frame_records.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <fmt/format.h>
#include <poll.h>

namespace m2m {

Expected<Exit> run_coap_sub(const SubArgs& a) {
    if (!a.topics.empty())
        return fail(Exit::usage, "-t is MQTT's: a CoAP resource is the URI's path (coap://HOST/PATH)");
    if (!a.format.empty() || a.topic_payload)
        return fail(Exit::usage, "-v and -F are mosquitto_sub's: not for coap://");
    auto client = coap::Client::open(
        a.mqtt.broker,
        coap::Client::options(a.psk_identity, a.psk_key_file, a.mqtt.connect_timeout,
                              {a.mqtt.cafile, a.mqtt.capath, a.mqtt.cert, a.mqtt.key, a.mqtt.insecure}));
    if (!client) return std::unexpected(client.error());
    auto& c = **client;
    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, a.output, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    PayloadStyle style =
        recorder.style() == PayloadStyle::auto_ ? PayloadStyle::auto_message : recorder.style();
    Record r;
    bool answered = false;
    auto on = [&](const coap::Notification& n) {
        if (loop.stopped()) return;
        answered = true;
        ++stats.received;
        int64_t now = wall_us();
        r.clear();
        r.ts = format_rfc3339(now);
        r.src = c.uri();
        set_payload(r, n.payload, style, PayloadKind::b64);
        std::string view = fmt::format(R"({{"code":"{}")", coap::code_text(n.code));
        if (n.observe >= 0) view += fmt::format(R"(,"observe":{})", n.observe);
        if (n.content_format >= 0) view += fmt::format(R"(,"content_format":{})", n.content_format);
        r.extra.push_back({"coap", view + "}"});
        if (n.code >= 300) r.err = fmt::format("CoAP {}", coap::code_text(n.code));
        recorder.emit(r, now);
        recorder.flush();
    };
    if (auto st = c.get(a.observe, on); !st) return std::unexpected(st.error());
    auto check = [&] {
        c.process();
        if (c.failed()) return loop.fail(Exit::unavailable, fmt::format("{}: {}", c.uri(), c.why()));
        if (c.ended()) {
            if (a.observe && answered) log::info("{}: the server ended the observation", c.uri());
            loop.stop(Exit::ok);
        }
    };
    loop.watch(c.fd(), POLLIN, [&](short) { check(); });
    std::function<void()> tick = [&] { // retransmissions and what libcoap has due
        check();
        if (!loop.stopped()) loop.at(mono_us() + 100000, tick);
    };
    tick();
    recorder.arm_timeout();
    loop.run();
    recorder.flush();
    c.cancel();
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    return loop.result();
}

} // namespace m2m
