#include "apps/bridge/bridge.hpp"
#include "apps/bridge/coap_uplink.hpp"
#include "apps/bridge/edge.hpp"
#include "apps/bridge/gateway.hpp"
#include "apps/bridge/poller.hpp"
#include "framing/framing.hpp"
#include "links/serial.hpp"
#include "links/uri.hpp"
#include "modbus/modbus.hpp"
#include "mqtt/journal.hpp"
#include "mqtt/outbox.hpp"
#include "mqttwire/wire.hpp"
#include "records/parser.hpp"
#include "regmap/register_map.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/link_session.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/suggest.hpp"
#include <cmath>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

namespace m2m {

namespace {

constexpr uint64_t kControl = ~uint64_t{0}; // OutMsg::line of status messages (not journaled)

PayloadStyle style_of(const std::string& p) {
    return p == "text"   ? PayloadStyle::text
           : p == "json" ? PayloadStyle::json
           : p == "hex"  ? PayloadStyle::hex
           : p == "b64"  ? PayloadStyle::b64
                         : PayloadStyle::auto_;
}

/// A write by name ({"set":{"setpoint":21.5}} on the command topic) and where its outcome goes.
struct Write {
    size_t dev = 0, val = 0;
    std::string value;               // as the command gave it (JSON)
    std::string cid;                 // the command's "cid" (raw JSON), echoed back
    std::string reply_topic;         // the command's MQTT 5 response topic, else --reply-topic
    std::optional<std::string> corr; // its MQTT 5 correlation data
};

/// One exchange on the link: a read of a poll round, or a command (answered on the reply topic).
/// A Modbus TCP master's request through the gateway (--modbus-server).
struct GatewayReq {
    uint64_t client = 0;
    uint16_t tid = 0;
};

struct Txn {
    std::optional<Write> write;
    std::optional<GatewayReq> gw;
    std::string frame, adu;
    bool poll = false;
    PollRead read;
    bool want_reply = false;
    int tries = 1; // a read that gets no (good) answer is sent again this many times in all
};

class Bridge {
  public:
    Bridge(const BridgeArgs& a, EventLoop& loop, LinkSession& link, MqttSession& mqtt, RunStats& stats,
           const Framing& framing, std::optional<TopicTemplate> tmpl, std::vector<MapDevice> map,
           std::string status, int64_t reply_us, int64_t stats_us, int64_t silence_us)
        : a_(a), loop_(loop), link_(link), mqtt_(mqtt), stats_(stats), framing_(framing),
          decoder_(framing.decoder()), encoder_(framing.encoder()), tmpl_(std::move(tmpl)),
          poller_(std::move(map)), status_(std::move(status)), reply_us_(reply_us), stats_us_(stats_us),
          silence_us_(silence_us), style_(style_of(a.payload)) {
        poller_.hooks.value = [this](MapDevice& d, MapValue& v, const std::string& json) {
            ++polls_;
            if (edge_) return edge_value(d, v, json);
            publish_value(d, v, json);
        };
        poller_.hooks.value_error = [this](MapDevice& d, MapValue& v, const std::string& why) {
            ++poll_errors_;
            log::info("device '{}' value '{}': {}", d.name, v.name, why);
            if (edge_) return edge_value(d, v, {}); // a metric that cannot be read is null
            v.last.clear();                         // the next good value is published, --on-change or not
            publish_value(d, v, {}, why);
        };
        poller_.hooks.available = [this](MapDevice& d, bool ok, const std::string& why) {
            if (!ok) {
                ++poll_errors_;
                log::info("device '{}': {}", d.name, why);
            }
            set_available(d, ok, why);
        };
    }

    Journal journal;
    std::vector<ExtraField> set; // --set: fields added to every uplink record and polled value
    int64_t turnaround_us = 0;   // --turnaround: quiet time after each exchange, beyond 3.5 characters

    /// --sparkplug: the map's devices are published as a Sparkplug B edge node (edge.hpp), its
    /// NDEATH the last will, in place of the value topics and the retained status.
    void sparkplug(SparkplugEdge e) {
        edge_ = std::move(e);
        born_.assign(poller_.devices().size(), false);
        birth_due_.assign(poller_.devices().size(), false);
        mqtt_.on_connecting = [this] { mqtt_.client().set_will_payload(edge_->next_death(now_ms())); };
    }

    /// BROKER coap://...: the uplink goes to a CoAP server (coap_uplink.hpp); no status, no downlink.
    void coap_uplink(std::unique_ptr<coap::Client> client, std::string method) {
        coap_ = std::make_unique<CoapUplink>(loop_, std::move(client), stats_, std::move(method));
        coap_->on_done = [this](const OutMsg& m) {
            journal.done(m.jid);
            journal.sync();
        };
    }

    /// --modbus-server: Modbus TCP masters' requests go on the bus between the bridge's own.
    void serve_gateway(int listen_fd) {
        gw_ = std::make_unique<ModbusGateway>(loop_, listen_fd);
        gw_->on_request = [this](uint64_t client, uint16_t tid, std::string adu) {
            if (!link_up_ || gwq_.size() >= 1000) // the bus is not there, or far behind
                return gw_->exception(client, tid, adu, 10);
            Txn t;
            if (auto st = encoder_->encode(adu, t.frame); !st) return gw_->exception(client, tid, adu, 10);
            t.gw = GatewayReq{client, tid};
            t.want_reply = !adu.empty() && adu[0] != 0; // a broadcast is never answered
            t.adu = std::move(adu);
            gwq_.push_back(std::move(t));
            next_txn();
        };
    }

    void start() {
        out_.on_done = [this](const OutMsg& m) { journal.done(m.jid); };
        out_.on_bad = [](uint64_t, const std::string& why) { log::warn("a message was refused: {}", why); };
        mqtt_.on_serviced = [this] {
            out_.acks();
            pump();
        };
        mqtt_.on_lost = [this] {
            // status messages the loss cut go back to their own queue (newest first, so in the
            // order sent), not the uplink's
            out_.requeue([this](OutMsg& m) {
                if (m.line != kControl) return false;
                control_.push_front(std::move(m));
                return true;
            });
            trim();      // what came back from the window counts against the bound too
            if (edge_) { // the session is over: the next connection gives the births again
                born_.assign(born_.size(), false);
                ddata_.clear();
            }
        };
        mqtt_.on_up = [this]() -> Status {
            if (!edge_) {
                control(status_, status_json(), true);
                for (auto& d : poller_.devices())
                    if (d.available >= 0)
                        control(status_ + "/devices/" + d.name, d.available ? "online" : "offline", true);
            }
            if (!a_.command_topic.empty())
                if (auto st = mqtt_.client().subscribe({{a_.command_topic, 1, false, false, 0}}); !st)
                    return st;
            if (edge_) {
                std::vector<MqttClient::Subscription> subs;
                for (auto& f : edge_->command_filters())
                    subs.push_back({f, 1, false, false, 0});
                if (auto st = mqtt_.client().subscribe(subs); !st) return st;
                births();
            }
            pump();
            return {};
        };
        mqtt_.on_message = [this](const MqttArrival& m) {
            if (edge_ && m.topic.starts_with("spBv1.0/")) return edge_command(m);
            command(m);
        };
        link_.on_data = [this](std::string_view bytes) {
            decoder_->feed(bytes, mono_us(), frames_);
            frames();
        };
        link_.on_writable = [this] { write_link(); };
        link_.on_lost = [this] {
            decoder_->finish(frames_);
            frames();
            stats_.add_decoder(decoder_->stats());
            decoder_ = framing_.decoder();
            link_up_ = false;
            if (current_ && current_->poll)
                end_txn(); // the unit is not to blame: no backoff (the status says link down)
            else if (current_)
                fail_txn("the link was lost", false);
            link_out_.clear();
            for (auto& t : gwq_) // the masters waiting hear that the bus is gone
                gw_->exception(t.gw->client, t.gw->tid, t.adu, 10);
            gwq_.clear();
            if (!edge_) control(status_, status_json(), true);
        };
        link_.on_up = [this] {
            link_up_ = true;
            if (!edge_) control(status_, status_json(), true);
            next_txn();
        };
        link_.on_eof = [this] {
            decoder_->finish(frames_);
            frames();
        };
        for (size_t i = 0; i < poller_.devices().size(); ++i)
            schedule_poll(i, mono_us());
        if (stats_us_ > 0) arm_stats();
    }

    /// Publishes "offline" and disconnects (at a normal exit: the will covers the rest).
    void finish() {
        if (coap_ && coap_->waiting()) { // not delivered: kept for the next run, or counted
            if (journal.on()) {
                log::note("{} message(s) not delivered yet: kept in the journal for the next run",
                          coap_->waiting());
            } else {
                stats_.drops["unsent_at_exit"] += coap_->waiting();
                log::warn("{} message(s) not delivered at exit: counted as unsent_at_exit", coap_->waiting());
            }
        }
        if (!mqtt_.up()) return;
        link_up_ = false;
        if (edge_) { // the edge node says its session ends, as its will would
            (void)mqtt_.client().publish(edge_->topic("NDEATH"), edge_->death(now_ms()), 1, false, nullptr);
            mqtt_.client().disconnect();
            return;
        }
        std::string s = fmt::format(R"({{"state":"offline","ts":"{}"}})", format_rfc3339(wall_us()));
        (void)mqtt_.client().publish(status_, s, 1, true, nullptr);
        for (auto& d : poller_.devices()) // the devices are not polled any more
            if (d.available >= 0)
                (void)mqtt_.client().publish(status_ + "/devices/" + d.name, "offline", 1, true, nullptr);
        mqtt_.client().disconnect();
    }

    /// What the journal held from before a restart: sent first, in order.
    void restore(std::deque<OutMsg> pending) {
        for (auto& m : pending)
            coap_ ? coap_->push(std::move(m)) : out_.push(std::move(m));
    }

    std::string extra_stats() const {
        return fmt::format(
                   R"("queue":{},"inflight":{},"polls":{},"poll_reads":{},"poll_errors":{},"retries":{},"commands":{})",
                   coap_ ? coap_->waiting() : out_.waiting(), coap_ ? int(coap_->busy()) : out_.inflight(),
                   polls_, reads_, poll_errors_, retries_, commands_) +
               (gw_ ? fmt::format(R"(,"gateway_requests":{},"gateway_answers":{},"gateway_exceptions":{})",
                                  gw_->requests, gw_->answers, gw_->exceptions)
                    : std::string());
    }

  private:
    std::string status_json() const {
        return fmt::format(R"({{"state":"online","link":"{}","src":"{}","ts":"{}"}})",
                           link_up_ ? "up" : "down", link_.link().name(), format_rfc3339(wall_us()));
    }

    void control(const std::string& topic, std::string payload, bool retain) {
        if (coap_) return; // a CoAP uplink has no status resource: no retained messages, no will
        OutMsg m;
        m.topic = topic;
        m.payload = std::move(payload);
        m.qos = 1;
        m.retain = retain;
        m.line = kControl;
        control_.push_back(std::move(m));
        if (control_.size() > 1000) control_.pop_front(); // status changes while the broker is away
        pump();
    }

    void pump() {
        int sent = 0;
        while (!control_.empty() && out_.can_send(control_.front())) {
            if (!out_.send(control_.front())) break;
            control_.pop_front();
            ++sent;
        }
        while (control_.empty() && out_.send_next()) {
            if (++sent == 4096) {
                loop_.at(0, [this] { pump(); });
                break;
            }
        }
        journal.sync();
        if (sent) flush_soon();
    }

    /// What pump() published goes to the socket once this pass is done: one write for the frames
    /// of one read, not one per frame, and never left waiting for the broker's next packet (it
    /// waited for the session's 200 ms tick: 22 ms p50, 188 ms p99 at 200 lines/s).
    void flush_soon() {
        if (flush_armed_) return;
        flush_armed_ = true;
        loop_.at(0, [this] {
            flush_armed_ = false;
            mqtt_.flush();
        });
    }

    /// Queues an uplink message; the oldest are dropped (and counted) past the bounds.
    void enqueue(OutMsg m) {
        if (journal.on() && !journal.append(m)) ++stats_.drops["journal_unwritten"];
        if (coap_) {
            coap_->push(std::move(m));
            trim();
            journal.sync();
            return;
        }
        out_.push(std::move(m));
        trim();
        pump();
    }

    /// Drops (and counts) the oldest queued messages past the count and byte bounds.
    void trim() {
        auto waiting = [this] { return coap_ ? coap_->waiting() : out_.waiting(); };
        auto bytes = [this] { return coap_ ? coap_->waiting_bytes() : out_.waiting_bytes(); };
        while (waiting() > a_.buffer ||
               (bytes() > a_.buffer_bytes && waiting() > (coap_ && coap_->busy() ? 2u : 1u))) {
            OutMsg old = coap_ ? coap_->drop_oldest() : out_.drop_oldest();
            ++stats_.drops["overflow"];
            stats_.dropped_bytes["overflow"] += old.payload.size();
            journal.done(old.jid);
            if (!overflow_warned_)
                log::warn("the store-and-forward buffer is full: dropping the oldest messages (counted as "
                          "overflow)");
            overflow_warned_ = true;
        }
    }

    Record record_of(Frame& f) {
        Frame copy = f; // the uplink may still publish the bytes themselves
        Record r;
        frame_to_record(copy, link_.link().name(), style_, wall_us(), r);
        r.seq = ++seq_;
        apply_set_fields(set, r);
        return r;
    }

    void frames() {
        for (auto& f : frames_) {
            ++stats_.frames_in;
            if (!f.err.empty()) ++stats_.bad_frames;
            if (current_ && current_->want_reply) {
                answer(f);
                continue;
            }
            uplink(f);
        }
        frames_.clear();
        if (int64_t at = decoder_->deadline(); at >= 0) {
            if (tick_timer_ >= 0) loop_.cancel(tick_timer_);
            tick_timer_ = loop_.at(at, [this] {
                tick_timer_ = -1;
                decoder_->tick(mono_us(), frames_);
                frames();
            });
        }
    }

    void uplink(Frame& f) {
        Record r = record_of(f);
        ++stats_.records_in;
        OutMsg m;
        m.qos = a_.qos;
        m.retain = a_.retain;
        if (tmpl_) {
            auto t = tmpl_->expand(r);
            if (!t) {
                ++stats_.bad_records;
                log::error("frame {}: {}", *r.seq, t.error().message);
                return;
            }
            m.topic = std::move(*t);
        }
        if (a_.whole) {
            append_jsonl(m.payload, r);
            m.payload.pop_back();
        } else {
            m.payload = std::move(f.bytes);
        }
        enqueue(std::move(m));
    }

    // ---- downlink ----

    void command(const MqttArrival& m) {
        if (a_.command_topic.empty()) return;
        ++commands_;
        std::string payload(m.payload);
        if (!poller_.devices().empty() && !payload.empty() && payload[0] == '{') {
            simdjson::dom::parser p;
            simdjson::dom::object o, set;
            if (!p.parse(payload).get_object().get(o) && !o["set"].error()) {
                if (o["set"].get_object().get(set))
                    return bad_command(m.topic,
                                       R"("set" is an object of value names: {"set":{"setpoint":21.5}})");
                return write_by_name(m, o, set);
            }
        }
        if (!payload.empty() && payload[0] == '{') { // a record: its payload, or the framing's view
            Record r;
            if (parser_.parse(payload, r)) {
                if (r.kind != PayloadKind::none) {
                    payload = r.payload_bytes();
                } else {
                    const ExtraField* view = nullptr;
                    for (auto& f : r.extra)
                        if (!framing_.view_key.empty() && f.key == framing_.view_key) view = &f;
                    if (view) {
                        auto built = framing_.from_view(view->raw_value);
                        if (!built) return bad_command(m.topic, built.error().message);
                        payload = std::move(*built);
                    }
                }
            }
        }
        Txn t;
        if (auto st = encoder_->encode(payload, t.frame); !st)
            return bad_command(m.topic, st.error().message);
        t.adu = std::move(payload);
        t.want_reply = !a_.reply_topic.empty();
        txq_.push_back(std::move(t));
        if (txq_.size() > 10000) {
            txq_.pop_front();
            ++stats_.drops["command_overflow"];
        }
        next_txn();
    }

    /// {"set":{NAME:VALUE,...},"device":DEV,"cid":ANY}: each value encoded as the map says (type,
    /// order, scale; fc 6 or 16, coils fc 5) and written; each outcome published on the reply topic.
    void write_by_name(const MqttArrival& m, simdjson::dom::object o, simdjson::dom::object set) {
        Write w;
        if (auto c = o["cid"]; !c.error()) w.cid = simdjson::minify(c.value_unsafe());
        w.reply_topic = a_.reply_topic;
        wire::each_property(m.props, [&](int id, std::string_view v) {
            if (id == 0x08) w.reply_topic = v;
            if (id == 0x09) w.corr = std::string(v);
        });
        std::string_view device;
        if (auto d = o["device"]; !d.error() && d.get_string().get(device))
            return bad_command(m.topic, R"("device" must be a device name (a string))");
        auto& devs = poller_.devices();
        for (auto field : set) {
            std::string given_dev(device);
            Write one = w;
            one.value = simdjson::minify(field.value);
            std::string name(field.key);
            std::vector<std::string> names;
            int found = 0;
            for (size_t di = 0; di < devs.size(); ++di) {
                if (!device.empty() && devs[di].name != device) continue;
                for (size_t vi = 0; vi < devs[di].values.size(); ++vi) {
                    names.push_back(devs[di].values[vi].name);
                    if (devs[di].values[vi].name == name) ++found, one.dev = di, one.val = vi;
                }
            }
            if (!device.empty() && names.empty()) {
                std::vector<std::string> dn;
                for (auto& d : devs)
                    dn.push_back(d.name);
                refuse_or_report(
                    one, given_dev, std::string(field.key), "refused",
                    fmt::format("no device '{}' in the map{}", device, did_you_mean(given_dev, dn)));
                continue;
            }
            if (found != 1) {
                refuse_or_report(
                    one, given_dev, name, "refused",
                    found ? fmt::format("'{}' names a value of {} devices: say which with \"device\"", name,
                                        found)
                          : fmt::format("no value '{}' in the map{}", name, did_you_mean(name, names)));
                continue;
            }
            auto& v = devs[one.dev].values[one.val];
            if (v.fc == 2 || v.fc == 4) {
                outcome(one, "refused",
                        fmt::format("'{}' is {}: read-only", name,
                                    v.fc == 2 ? "a discrete input" : "an input register"));
                continue;
            }
            std::string adu{static_cast<char>(devs[one.dev].unit)};
            if (v.fc == 1) {
                bool b = false;
                int64_t i = -1;
                if (field.value.get_bool().get(b) && (field.value.get_int64().get(i) || (i != 0 && i != 1))) {
                    outcome(one, "refused", "a coil is set with true or false (or 1 or 0)");
                    continue;
                }
                if (i >= 0) b = i == 1;
                adu += '\x05';
                adu += static_cast<char>(v.addr >> 8), adu += static_cast<char>(v.addr & 0xFF);
                adu += b ? '\xFF' : '\x00', adu += '\x00';
            } else {
                auto regs = modbus::registers_of(one.value, v.spec);
                if (!regs) {
                    outcome(one, "refused", regs.error().message);
                    continue;
                }
                bool single = regs->size() == 1;
                adu += single ? '\x06' : '\x10';
                adu += static_cast<char>(v.addr >> 8), adu += static_cast<char>(v.addr & 0xFF);
                if (!single) {
                    adu += '\x00', adu += static_cast<char>(regs->size());
                    adu += static_cast<char>(regs->size() * 2);
                }
                for (auto r : *regs)
                    adu += static_cast<char>(r >> 8), adu += static_cast<char>(r & 0xFF);
            }
            Txn t;
            if (auto st = encoder_->encode(adu, t.frame); !st) {
                outcome(one, "refused", st.error().message);
                continue;
            }
            t.adu = std::move(adu);
            t.want_reply = true;
            t.write = std::move(one);
            txq_.push_back(std::move(t));
        }
        next_txn();
    }

    /// The outcome of a write by name: written, exception, no answer or refused.
    void outcome(const Write& w, std::string_view result, const std::string& error) {
        auto& d = poller_.devices()[w.dev];
        if (edge_ && result == "written") // read it back now: the host sees the new value in a DDATA
            for (auto& r : poller_.round(w.dev))
                for (auto [vi, off] : d.blocks[r.block].values)
                    if (vi == w.val) queue_read(r);
        refuse_or_report(w, d.name, d.values[w.val].name, result, error);
    }

    void refuse_or_report(const Write& w, const std::string& dev, const std::string& val,
                          std::string_view result, const std::string& error) {
        if (result == "written")
            log::info("device '{}' value '{}': {} written", dev, val, w.value);
        else
            log::warn("device '{}' value '{}': {} not written: {}", dev, val, w.value, error);
        if (w.reply_topic.empty()) return;
        OutMsg m;
        m.topic = w.reply_topic;
        m.qos = a_.qos;
        m.payload = fmt::format(R"({{"ts":"{}","device":)", format_rfc3339(wall_us()));
        dev.empty() ? void(m.payload += "null") : append_json_string(m.payload, dev);
        m.payload += R"(,"name":)";
        append_json_string(m.payload, val);
        m.payload += R"(,"value":)" + (w.value.empty() ? "null" : w.value) + R"(,"result":")" +
                     std::string(result) + '"';
        if (!error.empty()) {
            m.payload += R"(,"error":)";
            append_json_string(m.payload, error);
        }
        if (!w.cid.empty()) m.payload += R"(,"cid":)" + w.cid;
        m.payload += '}';
        if (w.corr) m.props.edit().correlation_data = *w.corr;
        enqueue(std::move(m));
    }

    void bad_command(std::string_view topic, const std::string& why) {
        ++stats_.bad_records;
        log::error("command on '{}': {}", topic, why);
    }

    void next_txn() {
        if (!current_ && (!txq_.empty() || !gwq_.empty()) && link_up_ && mono_us() < bus_free_us_) {
            // the bus is quiet for 3.5 characters (and --turnaround) between one exchange and the next
            if (bus_timer_ < 0)
                bus_timer_ = loop_.at(bus_free_us_, [this] {
                    bus_timer_ = -1;
                    next_txn();
                });
            return;
        }
        while (!current_ && (!txq_.empty() || !gwq_.empty()) && link_up_) {
            // the masters' requests and the bridge's own take turns on the bus
            bool gw = !gwq_.empty() && (txq_.empty() || gw_turn_);
            auto& q = gw ? gwq_ : txq_;
            gw_turn_ = !gw;
            current_ = std::move(q.front());
            q.pop_front();
            link_out_ += current_->frame;
            ++stats_.frames_out;
            write_link();
            if (current_->poll) ++reads_;
            if (!current_->want_reply) {
                current_.reset();
                bus_free_us_ = mono_us() + silence_us_ + turnaround_us;
                continue;
            }
            decoder_->sent(current_->adu); // the request, so the reply's view has its addresses
            txn_timer_ = loop_.at(mono_us() + reply_us_, [this] {
                txn_timer_ = -1;
                ++stats_.reply_timeouts;
                fail_txn(fmt::format("no reply within {}", a_.reply_timeout), true);
            });
        }
    }

    void write_link() {
        while (!link_out_.empty() && link_.up()) {
            size_t n = link_.write(link_out_);
            if (n == 0) break;
            stats_.bytes_out += n;
            link_out_.erase(0, n);
        }
        link_.want_write(!link_out_.empty());
    }

    void end_txn() {
        if (txn_timer_ >= 0) loop_.cancel(txn_timer_), txn_timer_ = -1;
        current_.reset();
        bus_free_us_ = mono_us() + silence_us_ + turnaround_us;
        loop_.at(0, [this] { next_txn(); });
    }

    /// No answer, or a bad frame: a read is tried again (--retries), then counted against its unit.
    void fail_txn(const std::string& why, bool retry) {
        if (!current_) return;
        if (current_->poll) {
            if (retry && current_->tries > 1) {
                Txn t = std::move(*current_);
                --t.tries;
                ++retries_;
                log::info("device '{}': {}; trying again", poller_.devices()[t.read.dev].name, why);
                end_txn();
                txq_.push_front(std::move(t));
                return;
            }
            PollRead r = current_->read;
            end_txn();
            apply(r, poller_.failed(r, why));
            return;
        }
        if (current_->write) {
            Write w = std::move(*current_->write);
            end_txn();
            return outcome(w, "no answer", why);
        }
        if (current_->gw) { // the master hears that the device did not answer
            auto g = *current_->gw;
            std::string adu = current_->adu;
            end_txn();
            return gw_->exception(g.client, g.tid, adu, 11);
        }
        log::warn("command: {}", why);
        end_txn();
    }

    /// What the poller decided after a read: skip the rest of a unit's round, or read again now.
    void apply(const PollRead& r, Poller::Outcome o) {
        if (o.skip_rest) // a unit that does not answer holds the bus once per round, not once per read
            std::erase_if(txq_, [&](const Txn& t) { return t.poll && t.read.dev == r.dev; });
        for (auto it = o.again.rbegin(); it != o.again.rend(); ++it)
            queue_read(std::move(*it), true);
        birth_when_read(r.dev);
        next_txn();
    }

    void answer(Frame& f) {
        ++stats_.replies;
        if (current_->poll) {
            if (!f.err.empty()) return fail_txn(f.err, true);
            PollRead r = current_->read;
            end_txn();
            apply(r, poller_.answered(r, f.bytes));
            return;
        } else if (current_->gw) {
            auto g = *current_->gw;
            std::string_view a = f.bytes;
            std::string req = current_->adu;
            auto u8 = [](std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); };
            bool ours = f.err.empty() && a.size() >= 2 && a[0] == req[0] && (u8(a, 1) & 0x7F) == u8(req, 1);
            // RTU has no transaction id: a late answer to an earlier read of the same unit and
            // function is told apart by its size, where the request says it
            if (ours && (u8(a, 1) == 3 || u8(a, 1) == 4) && req.size() >= 6 && a.size() >= 3)
                ours = u8(a, 2) == 2 * (u8(req, 4) << 8 | u8(req, 5));
            end_txn();
            if (ours)
                gw_->reply(g.client, g.tid, a);
            else
                gw_->exception(g.client, g.tid, req, 11);
            return;
        } else if (current_->write) {
            Write w = std::move(*current_->write);
            std::string_view a = f.bytes;
            bool exc = a.size() >= 3 && (static_cast<unsigned char>(a[1]) & 0x80);
            bool echo = a.size() >= 2 && a[0] == current_->adu[0] && a[1] == current_->adu[1];
            end_txn();
            if (!f.err.empty()) return outcome(w, "error", f.err);
            if (exc) {
                int code = static_cast<unsigned char>(a[2]);
                return outcome(w, "exception",
                               fmt::format("exception {} ({})", code, modbus::exception_name(code)));
            }
            return echo ? outcome(w, "written", {}) : outcome(w, "error", "the answer is not for this write");
        } else {
            Record r = record_of(f);
            OutMsg m;
            m.topic = a_.reply_topic;
            m.qos = a_.qos;
            append_jsonl(m.payload, r);
            m.payload.pop_back();
            enqueue(std::move(m));
        }
        end_txn();
    }

    // ---- Modbus polling ----

    void queue_read(PollRead r, bool front = false) {
        Txn t;
        t.poll = true;
        t.want_reply = true;
        t.tries = 1 + a_.retries;
        t.adu = r.adu;
        t.read = std::move(r);
        if (auto st = encoder_->encode(t.adu, t.frame); !st) return;
        front ? txq_.push_front(std::move(t)) : txq_.push_back(std::move(t));
    }

    void schedule_poll(size_t di, int64_t at) {
        loop_.at(at, [this, di, at] {
            auto& d = poller_.devices()[di];
            bool queued = current_ && current_->poll && current_->read.dev == di; // a slow device: no pile-up
            for (auto& t : txq_)
                queued = queued || (t.poll && t.read.dev == di);
            if (!link_up_) { // a round that cannot happen is a failed poll, not the unit's fault (no backoff)
                ++poll_errors_;
                set_available(d, false, "the link is down");
            }
            if (link_up_ && !queued)
                for (auto& r : poller_.round(di))
                    queue_read(std::move(r));
            next_txn();
            schedule_poll(di, poller_.next_round(di, at, mono_us()));
        });
    }

    /// A polled value (`json`), or the exception its read got (`error`), on the value's topic.
    void publish_value(MapDevice& d, MapValue& v, const std::string& text, const std::string& error = {}) {
        if (error.empty()) {
            if (a_.on_change && text == v.last) return;
            v.last = text;
        }
        Record r;
        std::string name_json, dev_json;
        append_json_string(name_json, v.name);
        append_json_string(dev_json, d.name);
        r.extra.push_back({"device", dev_json});
        r.extra.push_back({"name", name_json});
        r.extra.push_back({"unit", std::to_string(d.unit)});
        apply_set_fields(set, r); // a field typed with --set wins over the map's
        OutMsg m;
        const auto& tt = v.topic ? *v.topic : *tmpl_;
        auto topic = tt.expand(r);
        if (!topic) {
            log::error("device '{}' value '{}': {}", d.name, v.name, topic.error().message);
            return;
        }
        m.topic = std::move(*topic);
        m.qos = a_.qos;
        m.retain = a_.retain;
        auto field = [&](std::string_view key) -> const std::string& {
            for (auto& f : r.extra)
                if (f.key == key) return f.raw_value;
            return text;
        };
        m.payload = fmt::format(R"({{"ts":"{}","device":{},"name":{},)", format_rfc3339(wall_us()),
                                field("device"), field("name"));
        if (error.empty()) {
            m.payload += R"("value":)" + text;
        } else {
            m.payload += R"("error":)";
            append_json_string(m.payload, error);
        }
        for (auto& f : set)
            if (f.key != "device" && f.key != "name") {
                m.payload += ',';
                append_json_string(m.payload, f.key);
                m.payload += ':' + f.raw_value;
            }
        m.payload += '}';
        ++stats_.records_in;
        enqueue(std::move(m));
    }

    void set_available(MapDevice& d, bool ok, const std::string& why) {
        if (d.available == (ok ? 1 : 0)) return;
        d.available = ok;
        if (!ok)
            log::warn("device '{}' is unavailable: {}", d.name, why);
        else
            log::note("device '{}' is available", d.name);
        if (!edge_) return control(status_ + "/devices/" + d.name, ok ? "online" : "offline", true);
        auto di = static_cast<size_t>(&d - poller_.devices().data());
        if (!ok && born_[di]) {
            born_[di] = false;
            ddata_.erase(di);
            spb_send(edge_->device_death(d, now_ms()));
        } else if (ok && !born_[di]) {
            birth_due_[di] = true; // at the end of this round: the birth carries all its values
        }
    }

    /// A device that came up gets its DBIRTH once the round that found it is read.
    void birth_when_read(size_t di) {
        if (!edge_ || !birth_due_[di]) return;
        if (current_ && current_->poll && current_->read.dev == di) return;
        for (auto& t : txq_)
            if (t.poll && t.read.dev == di) return;
        birth_due_[di] = false;
        if (!born_[di] && poller_.devices()[di].available == 1 && mqtt_.up())
            born_[di] = spb_send(edge_->device_birth(poller_.devices()[di], now_ms()));
    }

    // ---- Sparkplug B edge node (--sparkplug) ----

    static uint64_t now_ms() { return static_cast<uint64_t>(wall_us() / 1000); }

    /// NBIRTH, then a DBIRTH for each device that answers (the others when they do).
    void births() {
        if (!mqtt_.up()) return;
        ddata_.clear();
        born_.assign(born_.size(), false);
        if (!spb_send(edge_->node_birth(now_ms()))) return;
        for (size_t di = 0; di < born_.size(); ++di)
            if (poller_.devices()[di].available == 1)
                born_[di] = spb_send(edge_->device_birth(poller_.devices()[di], now_ms()));
    }

    /// A polled value (`text`; "" when its read failed): into the next DDATA when it changed.
    void edge_value(MapDevice& d, MapValue& v, const std::string& text) {
        if (text == v.last) return; // report by exception: Sparkplug sends what changed
        v.last = text;
        ++stats_.records_in;
        auto di = static_cast<size_t>(&d - poller_.devices().data());
        if (!born_[di]) return; // its DBIRTH will carry it
        auto vi = static_cast<size_t>(&v - d.values.data());
        auto& changed = ddata_[di];
        if (std::find(changed.begin(), changed.end(), vi) == changed.end()) changed.push_back(vi);
        if (ddata_armed_) return;
        ddata_armed_ = true;
        loop_.at(0, [this] { // the values of one read in one DDATA
            ddata_armed_ = false;
            auto pending = std::move(ddata_);
            ddata_.clear();
            for (auto& [di, vis] : pending)
                if (born_[di]) spb_send(edge_->device_data(poller_.devices()[di], vis, now_ms()));
        });
    }

    /// Publishes a Sparkplug message (QoS 0, not retained, as the specification says for all but
    /// NDEATH). False when it could not go.
    bool spb_send(Expected<SpbMessage> m) {
        if (!m) {
            ++stats_.drops["sparkplug_unencoded"];
            log::error("Sparkplug: {}", m.error().message);
            return false;
        }
        if (!mqtt_.up() || !mqtt_.client().publish(m->topic, m->payload, 0, false, nullptr)) {
            ++stats_.drops["sparkplug_unsent"];
            return false;
        }
        ++stats_.published;
        flush_soon();
        return true;
    }

    /// NCMD (Node Control/Rebirth) or DCMD (writes by metric name, as {"set":...} does).
    void edge_command(const MqttArrival& m) {
        ++commands_;
        auto c = edge_->command(m.topic, m.payload);
        for (auto& e : c.errors)
            bad_command(m.topic, e);
        if (c.rebirth) {
            log::note("rebirth requested on '{}'", m.topic);
            births();
        }
        if (c.set.empty()) return;
        simdjson::dom::parser p;
        simdjson::dom::object o, set;
        if (p.parse(c.set).get_object().get(o) || o["set"].get_object().get(set))
            return bad_command(m.topic, "the command's metrics do not make a write");
        MqttArrival a = m;
        a.props = {}; // the outcome goes to --reply-topic if there is one (Sparkplug has no response topic)
        write_by_name(a, o, set);
    }

    void arm_stats() {
        loop_.at(mono_us() + stats_us_, [this] {
            std::string s = stats_.to_json();
            s.pop_back();
            s += "," + extra_stats() +
                 fmt::format(R"(,"link":"{}","ts":"{}"}})", link_up_ ? "up" : "down",
                             format_rfc3339(wall_us()));
            OutMsg m;
            m.topic = status_ + "/stats";
            m.payload = std::move(s);
            m.line = kControl;
            control_.push_back(std::move(m));
            pump();
            arm_stats();
        });
    }

    const BridgeArgs& a_;
    EventLoop& loop_;
    LinkSession& link_;
    MqttSession& mqtt_;
    RunStats& stats_;
    const Framing& framing_;
    std::unique_ptr<Decoder> decoder_;
    std::unique_ptr<Encoder> encoder_;
    std::optional<TopicTemplate> tmpl_;
    Poller poller_;
    std::string status_;
    int64_t reply_us_, stats_us_;
    int64_t silence_us_;      // 3.5 characters at the line's speed (serial links)
    int64_t bus_free_us_ = 0; // the next exchange may start
    int bus_timer_ = -1;
    PayloadStyle style_;
    Outbox out_{mqtt_, stats_};
    std::deque<OutMsg> control_;
    bool overflow_warned_ = false;
    bool flush_armed_ = false;
    bool link_up_ = true;
    Frames frames_;
    int tick_timer_ = -1;
    uint64_t seq_ = 0;
    RecordParser parser_;
    std::deque<Txn> txq_;
    std::deque<Txn> gwq_; // requests of Modbus TCP masters (--modbus-server)
    bool gw_turn_ = false;
    std::unique_ptr<ModbusGateway> gw_;
    std::unique_ptr<CoapUplink> coap_;
    std::optional<SparkplugEdge> edge_;
    std::vector<bool> born_;                      // --sparkplug: the devices whose DBIRTH is out
    std::vector<bool> birth_due_;                 // --sparkplug: DBIRTH once this round is read
    std::map<size_t, std::vector<size_t>> ddata_; // --sparkplug: changed values per device, not yet sent
    bool ddata_armed_ = false;
    std::optional<Txn> current_;
    int txn_timer_ = -1;
    std::string link_out_;
    uint64_t polls_ = 0, reads_ = 0, poll_errors_ = 0, retries_ = 0, commands_ = 0;
};

std::string host_name() {
    char h[256] = {};
    ::gethostname(h, sizeof h - 1);
    return h;
}

} // namespace

Expected<Exit> run_bridge(const BridgeArgs& a) {
    auto uri = parse_uri(a.link);
    if (!uri) return std::unexpected(uri.error());
    bool polling = !a.map.empty();
    auto framing = make_framing(a.framing.framing, {.max_frame = a.framing.max_frame,
                                                    .expect = polling ? Expect::responses : Expect::any});
    if (!framing) return std::unexpected(framing.error());
    if (polling && framing->view_key != "modbus")
        return fail(Exit::usage, "--map polls Modbus devices: use --framing modbus-rtu or modbus-tcp");
    MqttArgs margs = a.mqtt;
    if (margs.client_id.empty()) { // stable across restarts, so the status topic and session are too
        std::string base = uri->path.empty() ? uri->host : uri->path;
        base = base.substr(base.find_last_of('/') + 1);
        margs.client_id = "bridge-" + host_name() + (base.empty() ? "" : "-" + base);
    }
    Uri broker;
    bool to_coap = coap::is_endpoint(a.mqtt.broker);
    Expected<MqttConfig> cfg = MqttConfig{};
    if (to_coap) {
        if (!a.command_topic.empty())
            return fail(Exit::usage,
                        "--command-topic: a CoAP uplink has no downlink (the bridge is the CoAP client)");
        if (!a.sparkplug.empty())
            return fail(Exit::usage, "--sparkplug publishes to an MQTT broker, not coap://");
        if (!a.status_topic.empty())
            return fail(Exit::usage,
                        "--status-topic: a CoAP uplink has no status (no retained messages, no will)");
        if (a.retain) return fail(Exit::usage, "--retain: CoAP has no retained messages");
        if (a.method != "POST" && a.method != "PUT")
            return fail(Exit::usage, fmt::format("--method {}: use POST or PUT", a.method));
        auto at = a.mqtt.broker.find('/', a.mqtt.broker.find("://") + 3); // the URI's path: the default topic
        broker.path = at == std::string::npos ? "" : a.mqtt.broker.substr(at + 1);
        broker.path = broker.path.substr(0, broker.path.find('?'));
        cfg->client_id = margs.client_id;
    } else {
        if (a.method != "POST" || !a.psk_identity.empty() || !a.psk_key_file.empty())
            return fail(Exit::usage,
                        fmt::format("{} goes with a coap:// or coaps:// uplink",
                                    a.method != "POST" ? "--method" : "--psk-identity/--psk-key-file"));
        cfg = resolve_mqtt(margs, "bridge", broker);
        if (!cfg) return std::unexpected(cfg.error());
    }
    cfg->max_inflight = std::max(1, a.max_inflight);
    cfg->max_inflight_qos2 = std::max(1, a.max_inflight_qos2);
    if (a.qos < 0 || a.qos > 2) return fail(Exit::usage, fmt::format("bad QoS {}: use 0, 1 or 2", a.qos));
    std::optional<SparkplugEdge> edge;
    if (!a.sparkplug.empty()) {
        if (!polling)
            return fail(Exit::usage, "--sparkplug publishes the devices of a register map: give --map FILE");
        auto e = SparkplugEdge::parse(a.sparkplug);
        if (!e) return std::unexpected(e.error());
        if (!cfg->will_topic.empty())
            return fail(Exit::usage,
                        "--sparkplug: the last will is the edge node's NDEATH; drop --will-topic");
        if (a.mqtt.no_clean)
            return fail(
                Exit::usage,
                "--sparkplug: an edge node connects with a clean session; drop -c/--disable-clean-session");
        cfg->will_topic = e->topic("NDEATH");
        cfg->will_qos = 1;
        cfg->will_retain = false;
        edge = std::move(*e);
    }
    std::string status = !a.status_topic.empty() ? a.status_topic : "m2m/bridge/" + cfg->client_id;
    if (auto st = check_topic(status); !st) return fail(Exit::usage, "--status-topic: " + st.error().message);
    if (cfg->will_topic.empty()) {
        cfg->will_topic = status;
        cfg->will_payload = R"({"state":"offline","reason":"connection lost"})";
        cfg->will_qos = 1;
        cfg->will_retain = true;
    }
    std::string topic = !a.topic.empty() ? a.topic : broker.path;
    if (topic.empty()) topic = polling ? "m2m/{device}/{name}" : "";
    if (topic.empty())
        return fail(Exit::usage,
                    "bridge needs an uplink topic: --topic TEMPLATE (plant/{dev}) or a path in BROKER");
    auto tmpl = TopicTemplate::parse(topic);
    if (!tmpl) return std::unexpected(tmpl.error());
    auto reply = parse_duration(a.reply_timeout);
    if (!reply) return std::unexpected(reply.error());
    auto poll = parse_duration(a.poll);
    if (!poll || poll->count() <= 0) return fail(Exit::usage, fmt::format("bad --poll '{}'", a.poll));
    auto stats_every = parse_duration(a.stats_interval);
    if (!stats_every) return std::unexpected(stats_every.error());
    if (!a.reply_topic.empty()) {
        if (a.command_topic.empty()) return fail(Exit::usage, "--reply-topic needs --command-topic");
        if (auto st = check_topic(a.reply_topic); !st)
            return fail(Exit::usage, "--reply-topic: " + st.error().message);
    }
    auto set = parse_set_fields(a.set);
    if (!set) return std::unexpected(set.error());
    if (polling)
        for (auto& f : *set)
            if (f.key == "value")
                return fail(Exit::usage,
                            "--set value=...: 'value' is the polled value itself; pick another name");
    std::vector<MapDevice> map;
    if (polling) {
        auto m = load_map(a.map, poll->count());
        if (!m) return std::unexpected(m.error());
        map = std::move(*m);
    }
    if (edge)
        for (auto& d : map)
            if (d.name.find_first_of("/+#") != std::string::npos)
                return fail(Exit::usage,
                            fmt::format("{}: device '{}': a Sparkplug device id has no '/', '+' or '#'",
                                        a.map, d.name));
    auto turnaround = parse_duration(a.turnaround);
    if (!turnaround) return std::unexpected(turnaround.error());
    // Modbus RTU: a line is quiet for 3.5 characters between frames (1.75 ms above 19200 baud)
    int64_t silence = 0;
    if (polling && (uri->scheme == "serial" || uri->scheme == "pty") &&
        framing->name.starts_with("modbus-rtu")) {
        auto line = parse_serial_settings(*uri);
        if (!line) return std::unexpected(line.error());
        int bits = 1 + line->data_bits + (line->parity != 'N') + line->stop_bits;
        silence = line->baud > 19200 ? 1750 : static_cast<int64_t>(3.5 * bits * 1e6 / line->baud);
    }
    auto link = open_link(*uri, LinkRole::both);
    if (!link) return std::unexpected(link.error());

    EventLoop loop;
    RunStats stats;
    LinkSession link_session(loop, std::move(*link), !a.mqtt.no_reconnect, stats);
    MqttSession mqtt(loop, *cfg, !a.mqtt.no_reconnect, stats);
    Bridge bridge(a, loop, link_session, mqtt, stats, *framing, std::move(*tmpl), std::move(map), status,
                  reply->count(), stats_every->count(), silence);
    bridge.turnaround_us = turnaround->count();
    if (to_coap) {
        auto client = coap::Client::open(
            a.mqtt.broker,
            coap::Client::options(a.psk_identity, a.psk_key_file, a.mqtt.connect_timeout,
                                  {a.mqtt.cafile, a.mqtt.capath, a.mqtt.cert, a.mqtt.key, a.mqtt.insecure}));
        if (!client) return std::unexpected(client.error());
        bridge.coap_uplink(std::move(*client), a.method);
        log::info("uplink to {}", a.mqtt.broker);
    }
    if (edge) bridge.sparkplug(std::move(*edge));
    if (!a.modbus_server.empty()) {
        auto server = parse_uri(a.modbus_server);
        if (!server) return std::unexpected(server.error());
        if (server->scheme != "tcp-listen")
            return fail(Exit::usage,
                        "--modbus-server takes tcp-listen://HOST:PORT (tcp-listen://0.0.0.0:502)");
        if (framing->view_key != "modbus")
            return fail(Exit::usage,
                        "--modbus-server forwards to Modbus devices: use --framing modbus-rtu or modbus-tcp");
        auto fd = listen_tcp(*server);
        if (!fd) return std::unexpected(fd.error());
        bridge.serve_gateway(*fd);
        log::info("Modbus TCP masters served on {}", a.modbus_server);
    }
    std::deque<OutMsg> pending;
    if (!a.persist.empty()) {
        bridge.journal.set_sync(journal_sync_of(a.persist_sync));
        if (auto st = bridge.journal.open(a.persist, pending); !st) return std::unexpected(st.error());
        if (bridge.journal.damaged()) stats.drops["journal_damaged"] += bridge.journal.damaged();
        if (!pending.empty())
            log::note("--persist: {} message(s) from before the restart are sent again", pending.size());
    }
    bridge.set = std::move(*set);
    bridge.restore(std::move(pending));
    if (auto st = link_session.start(); !st) return std::unexpected(st.error());
    bridge.start();
    if (!to_coap)
        if (auto st = mqtt.start(); !st) return std::unexpected(st.error());
    loop.run();
    bridge.finish();
    if (a.common.stats) {
        std::string s = stats.to_json();
        s.pop_back();
        log::write("", "stats: " + s + "," + bridge.extra_stats() + "}");
    }
    return loop.result();
}

} // namespace m2m
