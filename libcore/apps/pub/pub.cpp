#include "apps/pub/pub.hpp"
#include "apps/pub/coap_pub.hpp"
#include "coap/coap.hpp"
#include "mqtt/journal.hpp"
#include "mqtt/outbox.hpp"
#include "mqtt/props.hpp"
#include "mqtt/session.hpp"
#include "mqttwire/wire.hpp"
#include "records/parser.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/line_input.hpp"
#include "runtime/line_sink.hpp"
#include "sparkplug/sparkplug.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <poll.h>
#include <simdjson.h>
#include <sstream>
#include <unistd.h>

namespace m2m {

namespace {

class Publisher {
  public:
    bool qos_given = false, retain_given = false; // typed by the user: a record's field does not override
    Publisher(const PubArgs& a, EventLoop& loop, MqttSession& session, RunStats& stats,
              FrameRecorder& recorder, std::optional<TopicTemplate> tmpl, int qos, bool retain,
              PubProps flag_props)
        : a_(a), loop_(loop), session_(session), stats_(stats), recorder_(recorder), tmpl_(std::move(tmpl)),
          qos_(qos), retain_(retain), flag_props_(std::move(flag_props)) {
        out_.on_bad = [this](uint64_t line, const std::string& why) { bad(line, why); };
    }

    std::string rr_topic, rr_prefix;

    int64_t repeat_delay_us = 0; // --repeat-delay

    /// A single message (-m, -f, -s, -n) instead of stdin, `times` times (--repeat).
    void single(std::string payload, int times = 1) {
        OutMsg m;
        m.topic = expand_plain();
        m.payload = std::move(payload);
        m.qos = qos_;
        m.retain = retain_;
        m.line = 1;
        if (!flag_props_.empty()) m.props = flag_props_;
        single_ = true;
        repeats_left_ = times;
        repeat_msg_ = std::move(m);
        repeat();
    }

    void repeat() {
        do {
            ++stats_.records_in;
            --repeats_left_;
            accept(OutMsg(repeat_msg_));
        } while (repeats_left_ > 0 && repeat_delay_us == 0);
        if (repeats_left_ > 0)
            loop_.at(mono_us() + repeat_delay_us, [this] {
                repeat();
                pump();
            });
    }

    /// Lines come from put() (replay's broker target), not stdin.
    void feed_mode() { fed_ = true; }
    bool room() const { return fed_lines_.size() + out_.waiting() < a_.buffer; }
    void put(std::string line) {
        fed_lines_.emplace_back(std::move(line), ++fed_no_);
        pump();
    }
    void end() {
        fed_end_ = true;
        pump();
    }
    std::function<void()> on_room;

    void start() {
        if (!single_ && !fed_)
            stdin_watch_ = loop_.watch(STDIN_FILENO, POLLIN, [this](short) {
                input_.read_from(STDIN_FILENO);
                pump();
            });
        session_.on_serviced = [this] {
            out_.acks();
            pump();
        };
        session_.on_lost = [this] {
            out_.requeue();
            awaiting_ = false;
        };
        pump();
    }

    void on_reply(const MqttArrival& m) {
        if (!a_.rr || !awaiting_ || m.topic != rr_topic) return;
        if (std::string_view cd; wire::string_property(m.props, 0x09, cd) && cd != awaited_) return;
        awaiting_ = false;
        if (rr_timer_ >= 0) loop_.cancel(rr_timer_), rr_timer_ = -1;
        ++stats_.replies;
        int64_t now = wall_us();
        Record r;
        r.ts = format_rfc3339(now);
        r.src = session_.client().config().src();
        r.topic = std::string(m.topic);
        r.qos = m.qos;
        r.retain = m.retain;
        r.props_raw = props_to_json(m.props);
        PayloadStyle style =
            recorder_.style() == PayloadStyle::auto_ ? PayloadStyle::auto_message : recorder_.style();
        set_payload(r, std::string(m.payload), style, PayloadKind::b64);
        recorder_.emit(r, now);
        recorder_.flush();
        loop_.at(0, [this] { pump(); });
    }

    /// --persist: QoS 1/2 messages are journaled until acknowledged; what a restart found in
    /// the journal goes first.
    void use_journal(Journal& j, std::deque<OutMsg> pending) {
        journal_ = &j;
        for (auto& m : pending)
            out_.push(std::move(m));
        out_.on_done = [this](const OutMsg& m) { journal_->done(m.jid); };
    }

  private:
    void accept(OutMsg m) {
        if (journal_ && m.qos > 0 && !journal_->append(m)) ++stats_.drops["journal_unwritten"];
        out_.push(std::move(m));
    }

    std::string expand_plain() const { return tmpl_ ? tmpl_->plain() : std::string(); }

    bool limit_reached() const { return a_.limits.count && stats_.records_in >= a_.limits.count; }

    /// Parses input lines into messages while the offline buffer has room.
    void fill(size_t want) {
        if (fed_) {
            while (out_.waiting() < want && !limit_reached() && !fed_lines_.empty()) {
                OutMsg m;
                auto [line, no] = std::move(fed_lines_.front());
                fed_lines_.pop_front();
                if (encode(line, no, m)) accept(std::move(m));
                if (loop_.stopped()) return;
            }
            return;
        }
        std::string line;
        while (out_.waiting() < want && !limit_reached() && input_.next_line(line)) {
            OutMsg m;
            if (encode(line, input_.line_no(), m)) accept(std::move(m));
            if (loop_.stopped()) return;
        }
    }

    bool encode(const std::string& line, uint64_t no, OutMsg& m) {
        ++stats_.records_in;
        m.line = no;
        m.qos = qos_;
        m.retain = retain_;
        if (a_.raw) {
            m.topic = expand_plain();
            m.payload = line;
        } else {
            if (auto st = parser_.parse(line, rec_); !st) return bad(m.line, st.error().message);
            if (tmpl_) {
                auto t = tmpl_->expand(rec_);
                if (!t) return bad(m.line, t.error().message);
                m.topic = std::move(*t);
            } else if (rec_.topic) {
                m.topic = *rec_.topic;
            } else {
                return bad(m.line, "no topic: the record has no 'topic' field and no --topic was given");
            }
            if (a_.whole) {
                m.payload = line;
            } else {
                if (rec_.kind == PayloadKind::none)
                    return bad(m.line, "no payload: a record needs one of text, json, hex, b64");
                m.payload.assign(rec_.payload_view(scratch_));
                if (a_.encode == "sparkplug" || (a_.encode == "auto" && rec_.kind == PayloadKind::json &&
                                                 sparkplug::is_payload_topic(m.topic))) {
                    if (rec_.kind != PayloadKind::json)
                        return bad(m.line, "--encode sparkplug: the record's payload is not json");
                    auto p = sparkplug::from_json(m.payload, static_cast<uint64_t>(wall_us() / 1000));
                    if (!p) return bad(m.line, p.error().message);
                    m.payload = std::move(*p);
                }
            }
            // One rule: what the user typed (-q, ?qos=, -r; or set by config/environment) wins over
            // the record's field; the record's field wins over the defaults only.
            if (rec_.qos && !qos_given) {
                if (*rec_.qos < 0 || *rec_.qos > 2)
                    return bad(m.line, fmt::format("qos {} is not 0, 1 or 2", *rec_.qos));
                m.qos = *rec_.qos;
            }
            if (rec_.retain && !retain_given) m.retain = *rec_.retain;
            if (!flag_props_.empty())
                m.props = flag_props_;
            else
                m.props.reset();
            if (!rec_.props_raw.empty()) {
                if (session_.client().config().version != 5) {
                    if (!props_warned_)
                        log::warn(
                            "line {}: props need MQTT 5 (-V 5); sent without them (counted as props_dropped)",
                            m.line);
                    props_warned_ = true;
                    stats_.drops["props_dropped"]++;
                } else if (auto st = m.props.edit().merge_json(rec_.props_raw); !st) {
                    return bad(m.line, st.error().message);
                }
            }
        }
        if (auto st = check_topic(m.topic); !st) return bad(m.line, st.error().message);
        return true;
    }

    bool bad(uint64_t line, const std::string& why) {
        ++stats_.bad_records;
        log::error("line {}: {}", line, why);
        if (a_.common.strict) loop_.fail(Exit::bad_data, fmt::format("line {}: {}", line, why));
        return false;
    }

    /// Sends what the window and the connection allow; finishes when everything is acknowledged.
    void pump() {
        if (loop_.stopped()) return;
        int sent = 0;
        while (session_.up() && !awaiting_) {
            if (!out_.waiting()) fill(64);
            OutMsg* m = out_.next();
            if (!m || !out_.can_send(*m)) break;
            uint64_t line = m->line;
            if (a_.rr) ask(*m);
            if (!out_.send_next()) break;
            if (a_.rr) await_reply(line);
            if (++sent == 4096) { // let acknowledgements and signals in
                loop_.at(0, [this] { pump(); });
                break;
            }
        }
        if (journal_) journal_->sync(); // journaled before the broker sees a byte of it
        session_.flush();
        if (fed_ && !session_.up()) fill(a_.buffer);
        if (!single_ && stdin_watch_ >= 0) {
            if (!session_.up()) fill(a_.buffer); // offline: parse into the bounded buffer
            // Backpressure: stop reading when the window is full and the lines waiting pile up.
            bool want = input_.wants_input() && !limit_reached() && out_.waiting() < a_.buffer;
            loop_.set_events(stdin_watch_, want ? POLLIN : 0);
        }
        bool input_done = (single_ && repeats_left_ == 0) ||
                          (fed_ ? fed_end_ && fed_lines_.empty() : input_.exhausted()) || limit_reached();
        if (input_done && out_.idle() && !awaiting_ && session_.up()) {
            session_.client().disconnect();
            loop_.stop(Exit::ok);
            return;
        }
        if (fed_ && on_room && room()) on_room();
    }

    /// --rr: the request names where to answer and what it answers.
    void ask(OutMsg& m) {
        auto& props = m.props.edit();
        props.response_topic = rr_topic;
        if (!props.correlation_data) props.correlation_data = fmt::format("{}-{}", rr_prefix, m.line);
        awaited_ = *props.correlation_data;
    }

    /// --rr: the request from `line` went out; nothing more goes until its reply (or the timeout).
    void await_reply(uint64_t line) {
        awaiting_ = true;
        if (rr_timeout_us > 0)
            rr_timer_ = loop_.at(mono_us() + rr_timeout_us, [this, line] {
                rr_timer_ = -1;
                if (!awaiting_) return;
                awaiting_ = false; // named, judged, and the next request goes
                ++stats_.reply_timeouts;
                log::error("line {}: no reply on {} within {}", line, rr_topic, a_.reply_timeout);
                if (judged == Exit::ok) judged = Exit::timeout;
                ++failed_requests;
                pump();
            });
    }

  public:
    int64_t rr_timeout_us = 0;
    Exit judged = Exit::ok; // --rr: the first request that got no reply in time
    uint64_t failed_requests = 0;

  private:
    int rr_timer_ = -1;

    const PubArgs& a_;
    EventLoop& loop_;
    MqttSession& session_;
    RunStats& stats_;
    FrameRecorder& recorder_;
    std::optional<TopicTemplate> tmpl_;
    int qos_;
    bool retain_;
    PubProps flag_props_;
    LineInput input_{a_.max_line, [this](const std::string& why) { bad(input_.line_no(), why); }};
    RecordParser parser_;
    Record rec_;
    std::string scratch_;
    Outbox out_{session_, stats_};
    int stdin_watch_ = -1;
    bool single_ = false;
    int repeats_left_ = 0;
    OutMsg repeat_msg_;
    bool fed_ = false, fed_end_ = false;
    std::deque<std::pair<std::string, uint64_t>> fed_lines_;
    uint64_t fed_no_ = 0;
    bool props_warned_ = false;
    bool awaiting_ = false;
    std::string awaited_;
    Journal* journal_ = nullptr;
};

/// What the options say, checked: the connection, the topic template, QoS, retain, properties.
struct PubSetup {
    MqttConfig cfg;
    int qos = 0;
    bool retain = false;
    bool qos_given = false, retain_given = false;
    std::optional<TopicTemplate> tmpl;
    PubProps props;
    int singles = 0;
    std::string single_payload;
};

Expected<PubSetup> setup_pub(const PubArgs& a, const std::string& tool) {
    PubSetup su;
    Uri uri;
    auto cfg = resolve_mqtt(a.mqtt, tool, uri);
    if (!cfg) return std::unexpected(cfg.error());
    cfg->max_inflight = std::max(1, a.max_inflight);
    cfg->max_inflight_qos2 = std::max(1, a.max_inflight_qos2);
    if (!a.persist.empty()) cfg->clean = false;
    auto uri_qos = uri_number(uri, "qos", 0, 0, 2);
    if (!uri_qos) return std::unexpected(uri_qos.error());
    int qos = a.qos >= 0 ? a.qos : *uri_qos;
    if (qos < 0 || qos > 2) return fail(Exit::usage, fmt::format("bad QoS {}: use 0, 1 or 2", qos));
    bool retain = a.retain || uri.get("retain") == "1" || uri.get("retain") == "true";
    std::string topic = !a.topic.empty() ? a.topic : uri.path;
    std::optional<TopicTemplate> tmpl;
    if (!topic.empty()) {
        auto t = TopicTemplate::parse(topic);
        if (!t) return std::unexpected(t.error());
        tmpl = std::move(*t);
    }
    int singles = a.has_message + !a.file.empty() + a.null_message + a.stdin_message;
    if (singles > 1) return fail(Exit::usage, "-m, -f, -s and -n exclude each other");
    if (singles && (a.raw || a.whole))
        return fail(Exit::usage, "-m/-f/-s/-n send one message; --raw and --whole read stdin");
    if (!singles && (a.repeat != 1 || !a.repeat_delay.empty()))
        return fail(Exit::usage, "--repeat and --repeat-delay repeat one message: give -m, -f, -s or -n");
    if ((singles || a.raw) && (!tmpl || tmpl->has_fields()))
        return fail(Exit::usage, singles ? "a single message needs a plain --topic (no {fields})"
                                         : "--raw lines have no fields: give a plain --topic");
    if ((singles || a.raw) && tmpl) {
        std::string plain;
        for (auto& part : tmpl->parts)
            plain += part.text;
        if (auto st = check_topic(plain); !st) return fail(Exit::usage, st.error().message);
    }
    PubProps props;
    bool props_given = !a.content_type.empty() || !a.response_topic.empty() || !a.correlation_data.empty() ||
                       !a.message_expiry.empty() || a.topic_alias || !a.user_props.empty();
    if ((props_given || a.rr) && cfg->version != 5)
        return fail(Exit::usage, "MQTT 5 properties and --rr need -V 5");
    if (!a.reply_timeout.empty() && !a.rr) return fail(Exit::usage, "--reply-timeout needs --rr");
    if (!a.content_type.empty()) props.content_type = a.content_type;
    if (!a.response_topic.empty()) props.response_topic = a.response_topic;
    if (!a.correlation_data.empty()) props.correlation_data = a.correlation_data;
    if (!a.message_expiry.empty()) {
        auto d = parse_duration(a.message_expiry);
        if (!d) return std::unexpected(d.error());
        props.message_expiry = static_cast<uint32_t>(d->count() / 1000000);
    }
    if (a.topic_alias) props.topic_alias = a.topic_alias;
    for (auto& kv : a.user_props) {
        auto eq = kv.find('=');
        if (eq == std::string::npos)
            return fail(Exit::usage, fmt::format("--user-property '{}': expected KEY=VALUE", kv));
        props.user.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    std::string single_payload;
    // A single message over the protocol's packet limit is refused before anything is read or
    // connected (a broker would drop the connection, and a reconnect would send it again).
    auto over_limit = [&](size_t bytes, const std::string& what) -> Status {
        if (topic.size() + bytes + 16 <= wire::max_packet) return {};
        return fail(
            Exit::bad_data,
            fmt::format("{}: {} bytes, over MQTT's packet limit of 256 MiB; nothing published", what, bytes));
    };
    if (!a.file.empty()) {
        std::ifstream f(a.file, std::ios::binary | std::ios::ate);
        if (!f) return fail(Exit::usage, fmt::format("cannot read -f '{}'", a.file));
        if (auto size = f.tellg(); size > 0) {
            if (auto st = over_limit(static_cast<size_t>(size), fmt::format("-f '{}'", a.file)); !st)
                return std::unexpected(st.error());
        }
        f.seekg(0);
        std::ostringstream ss;
        ss << f.rdbuf();
        single_payload = ss.str();
        if (auto st = over_limit(single_payload.size(), fmt::format("-f '{}'", a.file)); !st)
            return std::unexpected(st.error()); // a pipe or a file that grew
    } else if (a.has_message) {
        single_payload = a.message;
    } else if (a.stdin_message) { // read to the end, refusing what no broker could take
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail(Exit::runtime, fmt::format("-s: reading stdin: {}", std::strerror(errno)));
            if (n == 0) break;
            single_payload.append(buf, static_cast<size_t>(n));
            if (auto st = over_limit(single_payload.size(), "-s (stdin)"); !st)
                return std::unexpected(st.error());
        }
    }
    su.cfg = std::move(*cfg);
    su.qos = qos;
    su.retain = retain;
    su.qos_given = a.qos >= 0 || !uri.get("qos").empty();
    su.retain_given = retain;
    su.tmpl = std::move(tmpl);
    su.props = std::move(props);
    su.singles = singles;
    su.single_payload = std::move(single_payload);
    return su;
}

/// replay's broker target: a Publisher fed line by line, on replay's loop and stats.
class BrokerSink : public LineSink {
  public:
    BrokerSink(PubArgs a, PubSetup su, EventLoop& loop, RunStats& stats)
        : a_(std::move(a)), su_(std::move(su)),
          recorder_(loop, stats, a_.output, a_.limits, a_.common.strict),
          session_(loop, su_.cfg, !a_.mqtt.no_reconnect, stats),
          pub_(a_, loop, session_, stats, recorder_, std::move(su_.tmpl), su_.qos, su_.retain,
               std::move(su_.props)) {
        pub_.qos_given = su_.qos_given;
        pub_.retain_given = su_.retain_given;
        pub_.feed_mode();
        pub_.on_room = [this] {
            if (on_room) on_room();
        };
    }
    Status start() override {
        if (auto st = session_.start(); !st) return st;
        pub_.start();
        return {};
    }
    bool room() const override { return pub_.room(); }
    void put(std::string line) override { pub_.put(std::move(line)); }
    void end() override { pub_.end(); }
    std::string failure() const override { return ""; } // the session and publisher say why through the loop

  private:
    PubArgs a_;
    PubSetup su_;
    FrameRecorder recorder_;
    MqttSession session_;
    Publisher pub_;
};

} // namespace

Expected<std::unique_ptr<LineSink>> open_broker_sink(const PubArgs& a, const std::string& target,
                                                     EventLoop& loop, RunStats& stats) {
    PubArgs args = a;
    args.mqtt.broker = target;
    auto su = setup_pub(args, "replay");
    if (!su) return std::unexpected(su.error());
    return std::make_unique<BrokerSink>(std::move(args), std::move(*su), loop, stats);
}

Expected<Exit> run_pub(const PubArgs& a) {
    if (is_http_endpoint(a.mqtt.broker)) return run_http_pub(a);
    if (coap::is_endpoint(a.mqtt.broker)) return run_coap_pub(a);
    auto su = setup_pub(a, "iot-pub");
    if (!su) return std::unexpected(su.error());
    auto& cfg = su->cfg;
    int singles = su->singles;
    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, a.output, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    MqttSession session(loop, cfg, !a.mqtt.no_reconnect, stats);
    Publisher pub(a, loop, session, stats, recorder, std::move(su->tmpl), su->qos, su->retain,
                  std::move(su->props));
    pub.qos_given = su->qos_given;
    pub.retain_given = su->retain_given;
    if (a.rr) {
        pub.rr_topic = !a.response_topic.empty() ? a.response_topic : "m2mkit/rr/" + cfg.client_id;
        pub.rr_prefix = cfg.client_id;
        if (!a.reply_timeout.empty()) {
            auto d = parse_duration(a.reply_timeout);
            if (!d) return std::unexpected(d.error());
            pub.rr_timeout_us = d->count();
        }
        session.on_up = [&]() -> Status {
            return session.client().subscribe({{pub.rr_topic, 1, false, false, 0}});
        };
        session.on_message = [&](const MqttArrival& m) { pub.on_reply(m); };
    }
    Journal journal;
    if (!a.persist.empty()) {
        std::deque<OutMsg> pending;
        journal.set_sync(journal_sync_of(a.persist_sync));
        if (auto st = journal.open(a.persist, pending); !st) return std::unexpected(st.error());
        if (journal.damaged()) stats.drops["journal_damaged"] += journal.damaged();
        if (!pending.empty())
            log::note("--persist: {} message(s) from before the restart are sent again", pending.size());
        pub.use_journal(journal, std::move(pending));
    }
    if (!a.repeat_delay.empty()) {
        auto d = parse_duration(a.repeat_delay);
        if (!d) return std::unexpected(d.error());
        pub.repeat_delay_us = d->count();
    }
    if (singles) pub.single(std::move(su->single_payload), a.repeat);
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    recorder.arm_timeout();
    pub.start();
    loop.run();
    recorder.flush();
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    auto result = loop.result();
    if (!result) return result;
    Exit code = *result;
    if (code == Exit::timeout)
        log::note("timed out: {} published, {} acknowledged", stats.published, stats.acked);
    if (code == Exit::ok && pub.judged != Exit::ok)
        return fail(pub.judged, fmt::format("{} of {} request(s) got no reply (each named above)",
                                            pub.failed_requests, stats.published));
    return code;
}

} // namespace m2m
