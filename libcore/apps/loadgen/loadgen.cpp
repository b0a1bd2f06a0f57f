#include "apps/loadgen/loadgen.hpp"
#include "apps/loadgen/summary.hpp"
#include "apps/loadgen/template.hpp"
#include "links/uri.hpp"
#include "loop/event_loop.hpp"
#include "mqttwire/tls.hpp"
#include "mqttwire/transport.hpp"
#include "mqttwire/wire.hpp"
#include "output/junit.hpp"
#include "records/parser.hpp"
#include "records/record.hpp"
#include "runtime/line_input.hpp"
#include "stats/histogram.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <queue>
#include <random>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace m2m {

namespace {

using namespace loadgen;

/// One of loadgen's connections: the same transport (socket, TLS, WebSocket frames) as the
/// tools' MqttClient, driven by the event loop; the MQTT exchange here is loadgen's own.
struct Conn {
    int watch = -1;
    bool up = false, failed = false, subscriber = false;
    wire::Transport t;
    wire::Decoder dec{1 << 20};
    std::string out; // MQTT bytes not yet written
    int64_t dev = 0; // global device number
    int sub = -1;    // a subscriber's index
    uint64_t seq = 0, total = 0;
    int64_t start_us = 0, connect_us = 0;
    uint16_t pid = 0;
    int inflight = 0;
    bool open() const { return t.fd() >= 0; }
};

/// This process's resident memory now, in KiB (/proc/self/statm), 0 where that cannot be read.
uint64_t resident_kb() {
    unsigned long size = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    int got = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024 : 0;
}

std::string address_text(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (a.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    else if (a.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    return buf;
}

/// --source: comma-separated addresses and IPv4 ranges (127.0.0.1-127.0.0.8, or 127.0.0.1-8 for
/// the last byte), all of the broker's address family.
Expected<std::vector<sockaddr_storage>> parse_sources(const std::string& spec, int family) {
    std::vector<sockaddr_storage> out;
    auto bad = [&](const std::string& item, const std::string& why) {
        return fail(Exit::usage, fmt::format("--source '{}': {}", item, why));
    };
    size_t start = 0;
    while (start <= spec.size()) {
        size_t comma = spec.find(',', start);
        std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
        sockaddr_storage a{};
        if (::inet_pton(AF_INET6, item.c_str(), &reinterpret_cast<sockaddr_in6&>(a).sin6_addr) == 1) {
            if (family != AF_INET6) return bad(item, "an IPv6 address, but the broker's address is IPv4");
            a.ss_family = AF_INET6;
            out.push_back(a);
            continue;
        }
        size_t dash = item.find('-');
        std::string lo_text = item.substr(0, dash),
                    hi_text = dash == std::string::npos ? "" : item.substr(dash + 1);
        in_addr lo{}, hi{};
        if (::inet_pton(AF_INET, lo_text.c_str(), &lo) != 1)
            return bad(item, "expected an address, or a range as 127.0.0.1-127.0.0.8 or 127.0.0.1-8");
        uint32_t first = ntohl(lo.s_addr), last = first;
        if (dash != std::string::npos) {
            unsigned byte = 0;
            char rest = 0;
            if (::inet_pton(AF_INET, hi_text.c_str(), &hi) == 1)
                last = ntohl(hi.s_addr);
            else if (std::sscanf(hi_text.c_str(), "%u%c", &byte, &rest) == 1 && byte <= 255)
                last = (first & 0xFFFFFF00u) | byte;
            else
                return bad(item, fmt::format("'{}' is not the range's last address", hi_text));
            if (last < first) return bad(item, "the range ends before it starts");
            if (last - first >= 65536) return bad(item, "more than 65,536 addresses in one range");
        }
        if (family != AF_INET) return bad(item, "an IPv4 address, but the broker's address is IPv6");
        for (uint64_t v = first; v <= last; ++v) {
            sockaddr_storage x{};
            auto& in = reinterpret_cast<sockaddr_in&>(x);
            in.sin_family = AF_INET;
            in.sin_addr.s_addr = htonl(static_cast<uint32_t>(v));
            out.push_back(x);
        }
    }
    return out;
}

/// Where the subscriber finds a message's device and sequence number.
enum class Stamp { none, payload, topic, property };
constexpr std::string_view kStampProperty = "m2m-loadgen"; // MQTT 5 user property: "DEV/SEQ"

/// The broker and how to speak to it.
struct Target {
    sockaddr_storage addr{};
    socklen_t alen = 0;
    MqttConfig cfg;
    std::shared_ptr<wire::TlsContext> tls; // mqtts://
    std::vector<sockaddr_storage> sources; // --source: devices connect from these in turn
};

class Loadgen {
  public:
    Loadgen(const LoadgenArgs& a, EventLoop& loop, Target target, int64_t first, int64_t n,
            std::vector<Part> topic, std::vector<Part> payload, std::vector<std::string> payloads,
            std::string filter, uint64_t per_dev, int64_t interval_us)
        : a_(a), loop_(loop), t_(std::move(target)), first_(first), n_(n), topic_(std::move(topic)),
          payload_(std::move(payload)), payloads_(std::move(payloads)), filter_(std::move(filter)),
          per_dev_(per_dev), interval_us_(interval_us) {
        int subs = a.no_sub ? 0 : std::max(1, a.subscribers);
        s.subscribers = subs;
        s.shared = a.shared;
        s.per_sub.resize(static_cast<size_t>(subs));
        // one record of what arrived per subscriber, or one for a shared group (a message
        // delivered to two of its members is a duplicate)
        sets_.resize(a.shared.empty() ? static_cast<size_t>(subs) : 1);
        for (auto& set : sets_) {
            set.seen.resize(static_cast<size_t>(n));
            set.last_seq.assign(static_cast<size_t>(n), -1);
        }
        if (a.no_sub)
            stamp_ = Stamp::none;
        else if (payloads_.empty() && has_fields(payload_))
            stamp_ = Stamp::payload;
        else if (has_fields(topic_))
            stamp_ = Stamp::topic;
        else if (t_.cfg.version == wire::v5)
            stamp_ = Stamp::property;
        else
            log::warn("latency and loss are not measured: put {{dev}} and {{seq}} in the {}topic template, "
                      "or use MQTT 5 (-V 5), where loadgen stamps them in a user property",
                      payloads_.empty() ? "payload or " : "");
        measure_ = stamp_ != Stamp::none;
    }

    Summary s;

    void start() {
        s.base_rss_kb = resident_kb();
        if (!a_.no_sub) {
            for (int k = 0; k < s.subscribers; ++k)
                if (!open(-1, k)) return;
        } else {
            launch_devices();
        }
        if (isatty(STDERR_FILENO)) progress();
        if (t_.cfg.keepalive > 0) ping();
    }

  private:
    Conn* open(int64_t dev, int sub = -1) {
        auto c = std::make_unique<Conn>();
        c->dev = dev;
        c->sub = sub;
        c->subscriber = dev < 0;
        c->dec = wire::Decoder(1 << 20, t_.cfg.version);
        int fd = ::socket(t_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        c->connect_us = mono_us();
        std::string why;
        if (fd >= 0 && !t_.sources.empty() && !c->subscriber) {
            // the port is picked at connect, per destination: ~64K connections per source address
            // to one broker, not ~28K ephemeral ports shared by all of them
            int one = 1;
            ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            auto& from = t_.sources[static_cast<size_t>(next_source_++) % t_.sources.size()];
            socklen_t len = from.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
            if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), len) < 0)
                why = fmt::format("bind to the --source address {}: {}", address_text(from),
                                  std::strerror(errno));
        }
        if (fd < 0 || !why.empty() ||
            (::connect(fd, reinterpret_cast<sockaddr*>(&t_.addr), t_.alen) < 0 && errno != EINPROGRESS)) {
            if (why.empty()) why = fmt::format("connect: {}", std::strerror(errno));
            if (s.connect_failed < 5) log::warn("{}", why);
            if (first_failure_.empty()) first_failure_ = why;
            if (fd >= 0) ::close(fd);
            ++s.connect_failed;
            if (c->subscriber) loop_.fail(Exit::unavailable, "the subscriber could not connect: " + why);
            return nullptr;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->t.open(fd, t_.tls.get(), {t_.cfg.host, t_.cfg.port, t_.cfg.websocket, t_.cfg.ws_path});
        wire::Connect w;
        w.client_id = dev < 0 ? fmt::format("{}-sub-{}-{}{}", a_.id_prefix, getpid(), first_,
                                            sub > 0 ? fmt::format("-{}", sub) : std::string())
                              : fmt::format("{}-{}-{}", a_.id_prefix, getpid(), dev);
        w.version = t_.cfg.version;
        w.keepalive = static_cast<uint16_t>(std::clamp(t_.cfg.keepalive, 0, 65535));
        w.user = t_.cfg.user;
        w.has_user = !t_.cfg.user.empty();
        w.password = t_.cfg.password;
        w.has_password = t_.cfg.has_password;
        wire::connect(c->out, w); // written once the transport's handshakes are done
        Conn* raw = c.get();
        raw->watch = loop_.watch(fd, POLLOUT | POLLIN, [this, raw](short ev) { io(raw, ev); });
        conns_.push_back(std::move(c));
        ++connecting_;
        // a broker that takes the TCP connection but never answers CONNACK must not hold the run
        int64_t limit_ms = std::max(1, t_.cfg.connect_timeout_ms);
        loop_.at(raw->connect_us + limit_ms * 1000, [this, raw, limit_ms] {
            if (!raw->up && !raw->failed && raw->open())
                lost(raw, fmt::format("no CONNACK within {} ms (--connect-timeout)", limit_ms));
        });
        return raw;
    }

    void launch_devices() {
        if (!connect_start_us_) connect_start_us_ = mono_us();
        // paced by --connect-rate, at most 64 connects in flight (a full listen backlog costs 1 s)
        int64_t gap = static_cast<int64_t>(1e6 / a_.connect_rate);
        while (next_dev_ < n_ && connecting_ < 64) {
            int64_t now = mono_us();
            if (now < next_launch_) {
                loop_.at(next_launch_, [this] { launch_devices(); });
                return;
            }
            open(first_ + next_dev_);
            ++next_dev_;
            next_launch_ = std::max(next_launch_ + gap, now - gap);
        }
        maybe_run();
    }

    void io(Conn* c, short ev) {
        if (!c->t.ready()) { // TLS, then the WebSocket upgrade
            switch (c->t.handshake()) {
            case wire::Transport::Step::done:
                break;
            case wire::Transport::Step::want_read:
                loop_.set_events(c->watch, POLLIN);
                return;
            case wire::Transport::Step::want_write:
                loop_.set_events(c->watch, POLLOUT);
                return;
            case wire::Transport::Step::failed:
                return lost(c, c->t.why());
            }
            ev = POLLIN | POLLOUT; // bytes may have come with the upgrade's answer
        }
        if (ev & POLLOUT) flush(c);
        if (!c->open()) return;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            for (;;) { // plain TCP: until a short read; TLS: until it has nothing decrypted left
                long r = c->t.read(c->dec);
                if (r < 0) return lost(c, c->t.why());
                wire::Packet p;
                for (;;) {
                    auto got = c->dec.next(p);
                    if (!got) return lost(c, got.error().message);
                    if (!*got) break;
                    packet(c, p);
                    if (!c->open()) return;
                }
                if (r == 0 || (!c->t.tls() && r < static_cast<long>(wire::Transport::read_size))) break;
            }
        }
        if (!c->out.empty() || c->t.wants_write()) flush(c);
    }

    void flush(Conn* c) {
        if (!c->open() || !c->t.ready()) return;
        long put = c->t.write(c->out);
        if (put < 0) return lost(c, c->t.why());
        c->out.erase(0, static_cast<size_t>(put));
        bool sent = c->out.empty() && !c->t.wants_write();
        loop_.set_events(c->watch, sent ? POLLIN : POLLIN | POLLOUT);
        if (sent && running_ && heap_.empty()) maybe_done(); // the last bytes are out
    }

    void lost(Conn* c, const std::string& why) {
        if (!c->open()) return;
        if (c->watch >= 0) loop_.unwatch(c->watch), c->watch = -1;
        c->t.close();
        if (!c->up) {
            --connecting_;
            ++s.connect_failed;
            if (!c->failed && s.connect_failed <= 5) log::warn("connect failed: {}", why);
            if (first_failure_.empty()) first_failure_ = why;
            c->failed = true;
            if (c->subscriber) {
                loop_.fail(Exit::unavailable, "the subscriber could not connect: " + why);
                return;
            }
            launch_devices();
            return;
        }
        c->up = false;
        ++dropped_;
        log::warn("a connection was lost: {}", why);
        if (c->subscriber) {
            loop_.fail(Exit::runtime, "the subscriber lost its connection: " + why);
        }
    }

    void packet(Conn* c, const wire::Packet& p) {
        switch (p.type) {
        case wire::CONNACK:
            --connecting_;
            if (p.return_code != 0) {
                ++s.connect_failed;
                std::string why = wire::reason_text(p.return_code, t_.cfg.version);
                if (s.connect_failed <= 5) log::warn("the broker refused a connection: {}", why);
                if (first_failure_.empty()) first_failure_ = "refused: " + why;
                c->failed = true;
                if (c->subscriber) {
                    loop_.fail(Exit::unavailable, fmt::format("the broker refused the subscriber: {}", why));
                    return;
                }
                launch_devices();
                return;
            }
            c->up = true;
            if (c->subscriber) {
                std::string f = a_.shared.empty() ? filter_ : fmt::format("$share/{}/{}", a_.shared, filter_);
                wire::subscribe(c->out, 1, {{f, a_.qos}}, t_.cfg.version);
                flush(c);
                return;
            }
            ++s.connect_ok;
            s.connect.add(mono_us() - c->connect_us);
            launch_devices();
            return;
        case wire::SUBACK:
            if (p.return_code >= 0x80) {
                loop_.fail(Exit::runtime,
                           fmt::format("the broker refused the subscription to '{}{}'",
                                       a_.shared.empty() ? "" : "$share/" + a_.shared + "/", filter_));
                return;
            }
            // the devices start once every subscriber is in place
            if (++subscribed_ == s.subscribers) launch_devices();
            return;
        case wire::PUBREC: // QoS 2, step 2: release it (a refusal ends the exchange here)
            if (p.return_code >= 0x80) {
                if (c->inflight > 0) --c->inflight;
                if (!s.refused++)
                    log::warn("the broker refused a message: {} (counted as refused)",
                              wire::reason_text(p.return_code, t_.cfg.version));
                maybe_done();
                return;
            }
            wire::ack(c->out, wire::PUBREL, p.id); // written when the read is done
            return;
        case wire::PUBREL: // the subscriber's QoS 2 message, released: complete it
            wire::ack(c->out, wire::PUBCOMP, p.id);
            return;
        case wire::PUBACK:
        case wire::PUBCOMP:
            if (c->inflight > 0) {
                --c->inflight;
                if (p.return_code >= 0x80) {
                    if (!s.refused++)
                        log::warn("the broker refused a message: {} (counted as refused)",
                                  wire::reason_text(p.return_code, t_.cfg.version));
                } else {
                    ++s.acked;
                }
            }
            maybe_done();
            return;
        case wire::DISCONNECT:
            return lost(c, "the broker disconnected: " + wire::reason_text(p.return_code, t_.cfg.version));
        case wire::PUBLISH:
            if (p.qos == 1) {
                wire::puback(c->out, p.id);
                flush(c);
            } else if (p.qos == 2) { // counted now; a duplicate before PUBREL shows as a duplicate
                wire::ack(c->out, wire::PUBREC, p.id);
                flush(c);
            }
            arrived(c, p);
            return;
        default:
            return;
        }
    }

    void arrived(const Conn* c, const wire::Packet& p) {
        int64_t now = mono_us();
        int64_t dev = -1, seq = -1;
        if (!measure_ || !stamp_of(p, dev, seq)) return;
        if (dev < first_ || dev >= first_ + n_) return; // another shard's device
        size_t d = static_cast<size_t>(dev - first_);
        auto& me = s.per_sub[static_cast<size_t>(c->sub)];
        auto& set = sets_[a_.shared.empty() ? static_cast<size_t>(c->sub) : 0];
        ++s.received, ++me.received;
        auto& seen = set.seen[d];
        if (static_cast<size_t>(seq) >= seen.size()) seen.resize(static_cast<size_t>(seq) + 1);
        if (seen[static_cast<size_t>(seq)]) {
            ++s.duplicates, ++me.duplicates;
            return;
        }
        seen[static_cast<size_t>(seq)] = true;
        ++unique_, ++me.unique;
        if (seq < set.last_seq[d]) ++s.reordered;
        Summary::bump(s.recv_per_s, (now - run_us_) / 1000000);
        s.receive_s = static_cast<double>(now - first_send_us_) / 1e6;
        set.last_seq[d] = std::max(set.last_seq[d], seq);
        int64_t latency = now - (run_us_ + phase(d) + seq * interval_us_);
        if (seq == 0) { // the connection's first message through the broker: its warm-up, apart
            s.warmup.add(latency);
        } else {
            s.latency.add(latency);
            me.latency.add(latency);
        }
        maybe_done();
    }

    bool stamp_of(const wire::Packet& p, int64_t& dev, int64_t& seq) const {
        switch (stamp_) {
        case Stamp::payload:
            return parse_back(payload_, p.payload, dev, seq);
        case Stamp::topic:
            return parse_back(topic_, p.topic, dev, seq);
        case Stamp::property: {
            std::string_view v;
            if (!wire::user_property(p.props, kStampProperty, v)) return false;
            return std::sscanf(std::string(v).c_str(), "%" SCNd64 "/%" SCNd64, &dev, &seq) == 2 && dev >= 0 &&
                   seq >= 0;
        }
        default:
            return false;
        }
    }

    int64_t phase(size_t d) const {
        return static_cast<int64_t>(d) * interval_us_ / std::max<int64_t>(n_, 1);
    }

    /// Every device has connected or failed: the clock starts.
    void maybe_run() {
        if (running_ || next_dev_ < n_ || connecting_ > 0) return;
        running_ = true;
        s.connect_s = static_cast<double>(mono_us() - connect_start_us_) / 1e6;
        s.held_rss_kb = resident_kb(); // every connection up, nothing sent yet
        run_us_ = mono_us() + 10000;
        for (auto& c : conns_)
            if (!c->subscriber && c->up) {
                c->total = per_dev_;
                heap_.push({run_us_ + phase(static_cast<size_t>(c->dev - first_)), c.get()});
                s.expected += per_dev_;
            }
        if (heap_.empty()) return finish();
        arm();
    }

    void arm() {
        if (heap_.empty()) return;
        loop_.at(heap_.top().first, [this] { fire(); });
    }

    void fire() {
        int64_t now = mono_us();
        std::string payload, topic;
        while (!heap_.empty() && heap_.top().first <= now) {
            auto [due, c] = heap_.top();
            heap_.pop();
            if (c->up) send(c, due, topic, payload);
            if (++c->seq < c->total)
                heap_.push({run_us_ + phase(static_cast<size_t>(c->dev - first_)) +
                                static_cast<int64_t>(c->seq) * interval_us_,
                            c});
        }
        for (auto& c : dirty_)
            flush(c);
        dirty_.clear();
        if (heap_.empty()) {
            maybe_done();
        } else {
            arm();
        }
    }

    void render(const std::vector<Part>& parts, const Conn* c, std::string& out) {
        out.clear();
        for (auto& p : parts) {
            switch (p.kind) {
            case Part::lit:
                out += p.text;
                break;
            case Part::dev:
                fmt::format_to(std::back_inserter(out), "{}", c->dev);
                break;
            case Part::seq:
                fmt::format_to(std::back_inserter(out), "{}", c->seq);
                break;
            case Part::ts:
                fmt::format_to(std::back_inserter(out), "{}", wall_us());
                break;
            case Part::rand:
                for (int i = 0; i < p.n; ++i)
                    out += "0123456789abcdefghijklmnopqrstuvwxyz"[rng_() % 36];
                break;
            }
        }
    }

    void send(Conn* c, int64_t, std::string& topic, std::string& payload) {
        render(topic_, c, topic);
        if (payloads_.empty()) render(payload_, c, payload);
        const std::string& body = payloads_.empty() ? payload : payloads_[c->seq % payloads_.size()];
        uint16_t id = 0;
        if (a_.qos) {
            id = ++c->pid ? c->pid : ++c->pid;
            ++c->inflight;
        }
        if (stamp_ == Stamp::property) {
            stamp_buf_.clear();
            fmt::format_to(std::back_inserter(stamp_buf_), "{}/{}", c->dev, c->seq);
            std::pair<std::string_view, std::string_view> up[] = {{kStampProperty, stamp_buf_}};
            wire::publish(c->out, topic, body, a_.qos, a_.retain, id, false, t_.cfg.version, up);
        } else {
            wire::publish(c->out, topic, body, a_.qos, a_.retain, id, false, t_.cfg.version);
        }
        if (!s.sent) first_send_us_ = mono_us();
        last_send_us_ = mono_us();
        Summary::bump(s.sent_per_s, (last_send_us_ - run_us_) / 1000000);
        ++s.sent;
        dirty_.push_back(c);
    }

    void maybe_done() {
        if (!running_ || !heap_.empty() || done_) return;
        bool acked = true;
        // every message acknowledged (QoS 1) and every byte handed to the kernel: a run that
        // ended with bytes still in a send buffer reported them sent and threw them away
        for (auto& c : conns_)
            acked = acked && ((c->inflight == 0 && c->out.empty() && !c->t.wants_write()) || !c->up);
        bool all_in = !measure_ || unique_ >= s.sent * s.fanout();
        if (acked && all_in) return finish();
        if (!drain_armed_) {
            drain_armed_ = true;
            auto d = parse_duration(a_.drain);
            loop_.at(mono_us() + (d ? d->count() : 5000000), [this] { finish(); });
        }
    }

    void finish() {
        if (done_) return;
        done_ = true;
        // measured, not assumed: from the first send to the last, plus the one gap the schedule
        // leaves after the last message (interval / devices)
        int64_t end = last_send_us_ ? last_send_us_ : mono_us();
        int64_t span =
            end - (first_send_us_ ? first_send_us_ : run_us_) + interval_us_ / std::max<int64_t>(n_, 1);
        s.duration_s = static_cast<double>(std::max<int64_t>(span, 1)) / 1e6;
        s.rate = static_cast<double>(s.sent) / s.duration_s;
        if (measure_) s.lost = s.sent * s.fanout() > unique_ ? s.sent * s.fanout() - unique_ : 0;
        rusage ru{};
        if (::getrusage(RUSAGE_SELF, &ru) == 0) s.peak_rss_kb = static_cast<uint64_t>(ru.ru_maxrss);
        for (auto& c : conns_)
            if (c->up) {
                wire::disconnect(c->out);
                flush(c.get());
            }
        loop_.stop(Exit::ok);
    }

    /// Once a second on a terminal: connections, the last second's rates, p99 so far.
    void progress() {
        loop_.at(mono_us() + 1000000, [this] {
            if (done_) return;
            std::fprintf(stderr,
                         "\rloadgen: connected %llu/%lld  sent %llu/s  received %llu/s  (total %llu, %llu)  "
                         "p99 %.2f ms   ",
                         static_cast<unsigned long long>(s.connect_ok), static_cast<long long>(n_),
                         static_cast<unsigned long long>(s.sent - shown_sent_),
                         static_cast<unsigned long long>(s.received - shown_received_),
                         static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.received),
                         static_cast<double>(s.latency.pct(.99)) / 1000);
            shown_sent_ = s.sent, shown_received_ = s.received;
            progress();
        });
    }

    /// Keepalive: a PINGREQ on every connection each half keepalive (the subscriber only reads,
    /// and a slow device may send less often than the broker's 1.5 x keepalive allows).
    void ping() {
        loop_.at(mono_us() + int64_t{t_.cfg.keepalive} * 500000, [this] {
            if (done_) return;
            for (auto& c : conns_)
                if (c->up && c->open()) {
                    wire::pingreq(c->out);
                    flush(c.get());
                }
            ping();
        });
    }

  public:
    std::string first_failure_; // why the first connection failed, for a run where none connected

  private:
    const LoadgenArgs& a_;
    EventLoop& loop_;
    Target t_;
    int64_t first_, n_;
    std::vector<Part> topic_, payload_;
    std::vector<std::string> payloads_; // --payload-file
    Stamp stamp_ = Stamp::none;
    std::string stamp_buf_;
    uint64_t shown_sent_ = 0, shown_received_ = 0;
    std::string filter_;
    uint64_t per_dev_;
    int64_t interval_us_;
    std::vector<std::unique_ptr<Conn>> conns_;
    int subscribed_ = 0;
    int64_t next_dev_ = 0, next_launch_ = 0, next_source_ = 0;
    int connecting_ = 0;
    uint64_t dropped_ = 0, unique_ = 0;
    bool running_ = false, done_ = false, drain_armed_ = false, measure_ = false;
    int64_t run_us_ = 0, first_send_us_ = 0, last_send_us_ = 0, connect_start_us_ = 0;
    using Due = std::pair<int64_t, Conn*>;
    struct Later {
        bool operator()(const Due& x, const Due& y) const { return x.first > y.first; }
    };
    std::priority_queue<Due, std::vector<Due>, Later> heap_;
    std::vector<Conn*> dirty_;
    struct Arrivals {
        std::vector<std::vector<bool>> seen; // by device, by sequence number
        std::vector<int64_t> last_seq;       // by device
    };
    std::vector<Arrivals> sets_;
    std::mt19937_64 rng_{42};
};

} // namespace

/// --payload-file: the payload of each record, as iot-pub would publish it. Lines are read in
/// bounded memory; a bad or overlong one is an error naming file:line (a load test runs what it
/// was given, or nothing).
Expected<std::vector<std::string>> load_payloads(const std::string& file, size_t max_line) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(Exit::usage,
                    fmt::format("cannot read --payload-file '{}': {}", file, std::strerror(errno)));
    std::vector<std::string> out;
    RecordParser parser;
    Record r;
    std::optional<Error> bad;
    auto reject = [&](uint64_t no, const std::string& why) {
        if (!bad) bad = Error{Exit::bad_data, fmt::format("{}:{}: {}", file, no, why)};
        return false;
    };
    bool read = for_each_line(
        fd, max_line, [&](uint64_t no, const std::string& why) { reject(no, why); },
        [&](std::string& line, uint64_t no) {
            if (bad) return false;
            if (line.empty()) return true;
            if (auto st = parser.parse(line, r); !st) return reject(no, st.error().message);
            if (r.kind == PayloadKind::none)
                return reject(no, "no payload: a record needs one of text, json, hex, b64");
            out.push_back(r.payload_bytes());
            return true;
        });
    int err = errno;
    ::close(fd);
    if (bad) return std::unexpected(*bad);
    if (!read)
        return fail(Exit::usage,
                    fmt::format("cannot read --payload-file '{}': {}", file, std::strerror(err)));
    if (out.empty()) return fail(Exit::bad_data, fmt::format("--payload-file '{}' holds no records", file));
    return out;
}

Expected<Exit> run_loadgen(const LoadgenArgs& a) {
    for (auto& e : a.fail_if) { // a gate that cannot be read fails now, not after the run
        std::string why;
        if (auto ok = check(Summary{}, e, why); !ok) return std::unexpected(ok.error());
    }
    Uri uri;
    auto cfg = resolve_mqtt(a.mqtt, "loadgen", uri);
    if (!cfg) return std::unexpected(cfg.error());
    if (a.devices < 1) return fail(Exit::usage, "--devices must be 1 or more");
    if (a.qos < 0 || a.qos > 2) return fail(Exit::usage, "loadgen publishes at QoS 0, 1 or 2");
    if (a.subscribers < 1) return fail(Exit::usage, "--subscribers must be 1 or more");
    if (a.no_sub && (a.subscribers != 1 || !a.shared.empty()))
        return fail(Exit::usage, "--no-sub excludes --subscribers and --shared");
    if (!a.shared.empty() && a.shared.find_first_of("/+#") != std::string::npos)
        return fail(Exit::usage,
                    fmt::format("--shared '{}': a share name holds no '/', '+' or '#'", a.shared));
    double per_dev_rate = a.total_rate > 0 ? a.total_rate / a.devices : a.rate;
    if (per_dev_rate <= 0) return fail(Exit::usage, "--rate must be above 0");
    int64_t interval = static_cast<int64_t>(std::llround(1e6 / per_dev_rate));
    uint64_t per_dev = a.count;
    if (!per_dev) {
        auto d = parse_duration(a.duration);
        if (!d) return std::unexpected(d.error());
        per_dev = static_cast<uint64_t>(
            std::llround(static_cast<double>(d->count()) / static_cast<double>(interval)));
        if (!per_dev) return fail(Exit::usage, "--duration is shorter than one message interval");
    }
    int64_t first = 0, n = a.devices;
    std::string shard;
    if (!a.shard.empty()) {
        int k = 0, of = 0;
        std::string spec = a.shard;
        if (spec.starts_with("auto/")) { // a Kubernetes Indexed Job's pod: its index, from 0
            const char* index = std::getenv("JOB_COMPLETION_INDEX");
            int i = -1;
            if (!index || std::sscanf(index, "%d", &i) != 1 || i < 0)
                return fail(Exit::usage, fmt::format("--shard {}: JOB_COMPLETION_INDEX (set in each pod of a "
                                                     "Kubernetes Indexed Job) is {}",
                                                     a.shard,
                                                     index ? fmt::format("'{}', not an index", index)
                                                           : std::string("not set")));
            spec = fmt::format("{}/{}", i + 1, spec.substr(5));
        }
        char rest = 0;
        if (std::sscanf(spec.c_str(), "%d/%d%c", &k, &of, &rest) != 2 || k < 1 || of < 1 || k > of)
            return fail(
                Exit::usage,
                fmt::format("bad --shard '{}': K/N with 1 <= K <= N, or auto/N in a Kubernetes Indexed Job{}",
                            a.shard, spec != a.shard ? fmt::format(" (here {})", spec) : std::string()));
        first = static_cast<int64_t>(a.devices) * (k - 1) / of;
        n = static_cast<int64_t>(a.devices) * k / of - first;
        shard = spec;
    }
    std::string topic_text = !a.topic.empty() ? a.topic : !uri.path.empty() ? uri.path : "loadgen/{dev}";
    auto topic = parse_template(topic_text, "--topic");
    if (!topic) return std::unexpected(topic.error());
    auto payload = parse_template(a.payload, "--payload");
    if (!payload) return std::unexpected(payload.error());
    std::vector<std::string> payloads;
    if (!a.payload_file.empty()) {
        auto p = load_payloads(a.payload_file, a.max_line);
        if (!p) return std::unexpected(p.error());
        payloads = std::move(*p);
    }
    // the subscriber's filter: a level that holds a field matches any value there
    std::string filter, level;
    bool wild = false;
    auto end_level = [&] {
        filter += wild ? "+" : level;
        level.clear(), wild = false;
    };
    for (auto& p : *topic) {
        if (p.kind != Part::lit) {
            wild = true;
            continue;
        }
        for (char ch : p.text) {
            if (ch == '/') {
                end_level();
                filter += '/';
            } else {
                level += ch;
            }
        }
    }
    end_level();
    // resolve the broker
    Target target;
    target.cfg = *cfg;
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(cfg->port);
    if (int rc = ::getaddrinfo(cfg->host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return fail(Exit::unavailable, fmt::format("{}: {}", cfg->host, gai_strerror(rc)));
    std::memcpy(&target.addr, res->ai_addr, res->ai_addrlen);
    target.alen = res->ai_addrlen;
    ::freeaddrinfo(res);
    if (!a.source.empty()) {
        auto src = parse_sources(a.source, target.addr.ss_family);
        if (!src) return std::unexpected(src.error());
        target.sources = std::move(*src);
    }
    if (cfg->tls) {
        auto ctx = wire::TlsContext::make({cfg->cafile, cfg->capath, cfg->cert, cfg->key, cfg->insecure});
        if (!ctx) return std::unexpected(ctx.error());
        target.tls = std::move(*ctx);
    }
    if (cfg->websocket) // its keys and their check come from the module: said now, not per connection
        if (auto api = wire::tls_api(); !api) return std::unexpected(api.error());
    rlimit rl; // thousands of connections: as many descriptors as allowed
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && static_cast<int64_t>(rl.rlim_cur) < n + a.subscribers + 64)
        log::warn("{} devices need more file descriptors than the limit ({}); raise it (ulimit -n)", n,
                  rl.rlim_cur);

    EventLoop loop;
    Loadgen lg(a, loop, std::move(target), first, n, std::move(*topic), std::move(*payload),
               std::move(payloads), filter, per_dev, interval);
    lg.s.devices = static_cast<int>(n);
    lg.s.shard = shard;
    lg.s.qos = a.qos;
    lg.s.asked_rate = per_dev_rate * static_cast<double>(n);
    lg.start();
    loop.run();
    if (isatty(STDERR_FILENO)) std::fputs("\n", stderr);
    if (auto result = loop.result(); !result || *result != Exit::ok) return result;
    Exit verdict = finish_summary(a, lg.s);
    // no device connected: the broker is not there, whatever the gates say (a --fail-if 'loss>0'
    // once passed with no broker at all, as nothing was sent and nothing lost)
    if (lg.s.connect_ok == 0 && lg.s.devices > 0)
        return fail(Exit::unavailable,
                    fmt::format("no device could connect ({} failed): {}", lg.s.connect_failed,
                                lg.first_failure_.empty() ? "no reason given" : lg.first_failure_));
    return verdict;
}

} // namespace m2m
