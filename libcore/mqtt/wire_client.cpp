// iot-pub's and replay's connection to the broker on libcore's own MQTT encoder (mqttwire), not
// Paho. Measured with strace on a 60,000-message QoS 1 run: Paho's synchronous client reads each
// PUBACK with three recv() calls and polls around each, and writes each PUBLISH on its own --
// about 7 system calls per message, 14 us of CPU, which made the publisher the slowest part of
// publisher -> broker -> subscriber. Here a burst of publishes is one write, and one read takes
// every acknowledgement that has arrived. Paho stays for Paho's file store (--persist) and
// request/response (--rr), and for iot-sub and bridge.
#include "mqtt/client.hpp"
#include "mqtt/props.hpp"
#include "mqttwire/tls.hpp"
#include "mqttwire/wire.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace m2m {

namespace {

constexpr size_t write_chunk = 256 * 1024; // publish() writes once this much is buffered
constexpr size_t blocked_at = 1 << 20;     // and publishing pauses when the socket leaves this much

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// PubProps as an MQTT 5 property block.
std::string encode_props(const PubProps& p) {
    wire::PropWriter w;
    if (p.payload_format) w.byte(0x01, static_cast<uint8_t>(*p.payload_format));
    if (p.message_expiry) w.u32(0x02, *p.message_expiry);
    if (p.content_type) w.str(0x03, *p.content_type);
    if (p.response_topic) w.str(0x08, *p.response_topic);
    if (p.correlation_data) w.str(0x09, *p.correlation_data);
    if (p.topic_alias) w.u16(0x23, static_cast<uint16_t>(*p.topic_alias));
    for (auto& [k, v] : p.user)
        w.pair(0x26, k, v);
    return std::move(w.bytes);
}

class WireClient final : public MqttClient {
  public:
    explicit WireClient(MqttConfig cfg) : MqttClient(std::move(cfg)), dec_(1 << 24, version()) {}
    ~WireClient() override { close_socket(); }

    Status connect() override;
    bool connected() override { return fd_ >= 0 && !dead_; }
    Status subscribe(const std::vector<Subscription>&) override {
        return fail(Exit::usage, "subscribing needs the Paho client"); // --rr takes Paho
    }
    Expected<int> publish(const char* topic, std::string_view payload, int qos, bool retain,
                          const PubProps* props) override;
    bool flush() override;
    bool wants_write() const override { return fd_ >= 0 && !dead_ && off_ < out_.size(); }
    bool blocked() const override { return out_.size() - off_ >= blocked_at; }
    uint64_t take_unsent_qos0() override {
        uint64_t n = q0_ends_.size();
        q0_ends_.clear();
        return n;
    }
    bool service(const std::function<void(const MqttArrival&)>& on_message) override;
    void pending(std::vector<int>& out) override;
    void disconnect() override;

  private:
    enum State : uint8_t { free_id = 0, want_puback, want_pubrec, want_pubcomp };
    int version() const { return cfg_.version == 5 ? wire::v5 : wire::v311; }
    void close_socket();
    /// Blocking steps of connect(), bounded by the deadline (monotonic µs). "" when done.
    std::string open_socket(int64_t deadline);
    std::string tls_handshake(int64_t deadline);
    std::string write_all(int64_t deadline);
    /// Reads what is there into the decoder: how many bytes, 0 for none yet, -1 closed or failed.
    long read_some();
    bool wait(short events, int64_t deadline);
    bool handle(const wire::Packet& p, const std::function<void(const MqttArrival&)>& on_message);
    void done(uint16_t id);

    std::shared_ptr<wire::TlsContext> tls_ctx_;
    std::unique_ptr<wire::TlsStream> tls_;
    wire::Decoder dec_;
    std::string out_;
    size_t off_ = 0;
    uint64_t base_ = 0;            // the stream offset of out_[0]
    std::deque<uint64_t> q0_ends_; // where each QoS 0 message not yet written ends in the stream
    bool dead_ = false;
    std::string why_dead_;
    std::vector<uint8_t> state_ = std::vector<uint8_t>(65536, free_id);
    std::deque<uint16_t> order_; // ids in flight, oldest first (some may be done)
    uint16_t next_id_ = 0;
    int64_t last_write_us_ = 0, ping_sent_us_ = 0;
    bool ping_out_ = false;
    char buf_[64 * 1024];
};

void WireClient::close_socket() {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool WireClient::wait(short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - mono_us();
        if (left <= 0) return false;
        pollfd p{fd_, events, 0};
        int n = ::poll(&p, 1, static_cast<int>((left + 999) / 1000));
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

std::string WireClient::open_socket(int64_t deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(cfg_.port);
    if (int rc = ::getaddrinfo(cfg_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return fmt::format("cannot resolve '{}': {}", cfg_.host, ::gai_strerror(rc));
    std::string why = "no address";
    for (auto* ai = res; ai; ai = ai->ai_next) {
        fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd_ < 0) {
            why = std::strerror(errno);
            continue;
        }
        int err = 0;
        if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                if (!wait(POLLOUT, deadline)) {
                    err = ETIMEDOUT;
                } else {
                    socklen_t len = sizeof err;
                    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
                }
            }
        }
        if (err == 0) {
            ::freeaddrinfo(res);
            int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return {};
        }
        why = std::strerror(err);
        close_socket();
    }
    ::freeaddrinfo(res);
    return lower(why);
}

std::string WireClient::tls_handshake(int64_t deadline) {
    if (!tls_ctx_) {
        auto ctx = wire::TlsContext::make({cfg_.cafile, cfg_.capath, cfg_.cert, cfg_.key, cfg_.insecure});
        if (!ctx) return ctx.error().message;
        tls_ctx_ = *ctx;
    }
    tls_ = std::make_unique<wire::TlsStream>(*tls_ctx_, fd_, cfg_.host);
    for (;;) {
        auto io = tls_->handshake();
        if (io == wire::TlsStream::Io::done) return {};
        if (io == wire::TlsStream::Io::want_read || io == wire::TlsStream::Io::want_write) {
            if (!wait(io == wire::TlsStream::Io::want_read ? POLLIN : POLLOUT, deadline))
                return "TLS: no handshake within the connect timeout";
            continue;
        }
        std::string e = tls_->error();
        return e.rfind("TLS", 0) == 0 ? e : "TLS: " + e;
    }
}

std::string WireClient::write_all(int64_t deadline) {
    while (off_ < out_.size()) {
        if (!flush()) return why_dead_;
        if (off_ < out_.size() && !wait(POLLOUT, deadline)) return "the broker does not read (timed out)";
    }
    return {};
}

Status WireClient::connect() {
    refused_ = auth_refused_ = session_present_ = false;
    close_socket();
    out_.clear();
    off_ = 0;
    base_ = 0;
    q0_ends_.clear(); // taken by the caller when the connection was lost
    dead_ = false;
    why_dead_.clear();
    ping_out_ = false;
    dec_ = wire::Decoder(1 << 24, version());
    // a fresh connection: what was in flight goes back to the caller's queue (Outbox::requeue)
    for (uint16_t id : order_)
        state_[id] = free_id;
    order_.clear();
    failed_.clear();

    int64_t deadline = mono_us() + int64_t{cfg_.connect_timeout_ms} * 1000;
    auto failure = [&](std::string why) {
        close_socket();
        return fail(Exit::unavailable, fmt::format("{}: {}", cfg_.src(), why));
    };
    if (auto why = open_socket(deadline); !why.empty()) return failure(why);
    if (cfg_.tls)
        if (auto why = tls_handshake(deadline); !why.empty()) return failure(why);

    bool v5 = cfg_.version == 5;
    wire::Connect c;
    c.version = version();
    c.client_id = cfg_.client_id;
    c.keepalive = static_cast<uint16_t>(cfg_.keepalive);
    c.clean = cfg_.clean;
    c.has_user = !cfg_.user.empty();
    c.user = cfg_.user;
    c.has_password = cfg_.has_password;
    c.password = cfg_.password;
    if (!cfg_.will_topic.empty()) {
        c.has_will = true;
        c.will_topic = cfg_.will_topic;
        c.will_payload = cfg_.will_payload;
        c.will_qos = cfg_.will_qos;
        c.will_retain = cfg_.will_retain;
    }
    if (v5) {
        uint32_t expiry = cfg_.session_expiry;
        if (!cfg_.clean && expiry == 0) expiry = 0xFFFFFFFF; // -c: keep the session (as mosquitto_sub)
        wire::PropWriter w;
        if (expiry) w.u32(0x11, expiry);
        c.props = std::move(w.bytes);
    }
    wire::connect(out_, c);
    if (auto why = write_all(deadline); !why.empty()) return failure(why);

    wire::Packet p;
    for (;;) {
        auto got = dec_.next(p);
        if (!got) return failure(got.error().message);
        if (*got) break;
        long r = read_some();
        if (r < 0) return failure(why_dead_.empty() ? "the broker closed the connection" : why_dead_);
        if (r == 0 && !wait(POLLIN, deadline))
            return failure(fmt::format("no CONNACK from the broker within {} s", (cfg_.connect_timeout_ms + 999) / 1000));
    }
    if (p.type != wire::CONNACK) return failure(fmt::format("MQTT: packet type {} before CONNACK", +p.type));
    if (p.return_code != 0) {
        refused_ = true;
        int rc = p.return_code;
        auth_refused_ = v5 ? (rc == 0x86 || rc == 0x87 || rc == 0x8A || rc == 0x8C) : (rc == 4 || rc == 5);
        std::string words = wire::reason_text(rc, version());
        if (rc == (v5 ? 0x86 : 4)) words = "not authorised: bad user name or password";
        return failure("refused: " + words);
    }
    session_present_ = p.session_present;
    window_ = std::clamp(cfg_.max_inflight, 1, 65000); // packet identifiers are 16 bits
    uint32_t receive_max = 0;
    if (v5 && wire::numeric_property(p.props, 0x21, receive_max) && receive_max > 0)
        window_ = std::min(window_, static_cast<int>(receive_max));
    last_write_us_ = mono_us();
    return {};
}

Expected<int> WireClient::publish(const char* topic, std::string_view payload, int qos, bool retain,
                                  const PubProps* props) {
    if (fd_ < 0 || dead_) return fail(Exit::runtime, "connection lost");
    uint16_t id = 0;
    if (qos > 0) {
        // the next identifier not in flight (the window keeps far fewer than 65,535 in flight)
        do
            id = ++next_id_ ? next_id_ : (next_id_ = 1);
        while (state_[id] != free_id);
        state_[id] = qos == 1 ? want_puback : want_pubrec;
        order_.push_back(id);
    }
    if (props && version() == wire::v5)
        wire::publish(out_, topic, payload, qos, retain, id, false, wire::v5, {}, encode_props(*props));
    else
        wire::publish(out_, topic, payload, qos, retain, id, false, version());
    if (qos == 0) q0_ends_.push_back(base_ + out_.size());
    if (out_.size() - off_ >= write_chunk) flush(); // a lost connection shows at the next call
    return int{id};
}

bool WireClient::flush() {
    if (dead_ || fd_ < 0) return false;
    while (off_ < out_.size()) {
        size_t put = 0;
        if (tls_) {
            auto io = tls_->write(out_.data() + off_, out_.size() - off_, put);
            if (io == wire::TlsStream::Io::want_read || io == wire::TlsStream::Io::want_write) break;
            if (io != wire::TlsStream::Io::done) {
                dead_ = true;
                why_dead_ = tls_->error();
                return false;
            }
        } else {
            ssize_t n = ::send(fd_, out_.data() + off_, out_.size() - off_, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                dead_ = true;
                why_dead_ = lower(std::strerror(errno));
                return false;
            }
            put = static_cast<size_t>(n);
        }
        off_ += put;
        last_write_us_ = mono_us();
    }
    while (!q0_ends_.empty() && q0_ends_.front() <= base_ + off_)
        q0_ends_.pop_front();
    if (off_ == out_.size() || off_ > write_chunk) {
        out_.erase(0, off_);
        base_ += off_;
        off_ = 0;
    }
    return true;
}

long WireClient::read_some() {
    size_t got = 0;
    if (tls_) {
        auto io = tls_->read(buf_, sizeof buf_, got);
        if (io == wire::TlsStream::Io::want_read || io == wire::TlsStream::Io::want_write) return 0;
        if (io != wire::TlsStream::Io::done) {
            why_dead_ = tls_->error();
            return -1;
        }
    } else {
        ssize_t n;
        do
            n = ::recv(fd_, buf_, sizeof buf_, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            why_dead_ = lower(std::strerror(errno));
            return -1;
        }
        if (n == 0) {
            why_dead_ = "the broker closed the connection";
            return -1;
        }
        got = static_cast<size_t>(n);
    }
    dec_.feed(std::string_view(buf_, got));
    return static_cast<long>(got);
}

void WireClient::done(uint16_t id) { state_[id] = free_id; }

bool WireClient::handle(const wire::Packet& p, const std::function<void(const MqttArrival&)>& on_message) {
    bool v5 = version() == wire::v5;
    auto refused = [&](uint16_t id) {
        failed_.emplace_back(id, fmt::format("{} (reason code 0x{:02x})", wire::reason_text(p.return_code, wire::v5),
                                             p.return_code));
    };
    switch (p.type) {
    case wire::PUBACK:
        if (state_[p.id] == want_puback) {
            if (v5 && p.return_code >= 0x80) refused(p.id);
            done(p.id);
        }
        return true;
    case wire::PUBREC:
        if (state_[p.id] == want_pubrec) {
            if (v5 && p.return_code >= 0x80) {
                refused(p.id);
                done(p.id);
            } else {
                state_[p.id] = want_pubcomp;
                wire::ack(out_, wire::PUBREL, p.id);
            }
        } else if (state_[p.id] == want_pubcomp) {
            wire::ack(out_, wire::PUBREL, p.id); // a PUBREC sent again
        }
        return true;
    case wire::PUBCOMP:
        if (state_[p.id] == want_pubcomp) done(p.id);
        return true;
    case wire::PUBLISH: {
        MqttArrival a;
        a.topic = p.topic;
        a.payload = p.payload;
        a.qos = p.qos;
        a.retain = p.retain;
        a.dup = p.dup;
        if (on_message) on_message(a);
        if (p.qos == 1) wire::ack(out_, wire::PUBACK, p.id);
        if (p.qos == 2) wire::ack(out_, wire::PUBREC, p.id);
        return true;
    }
    case wire::PUBREL:
        wire::ack(out_, wire::PUBCOMP, p.id);
        return true;
    case wire::PINGRESP:
        ping_out_ = false;
        return true;
    case wire::DISCONNECT:
        why_dead_ = fmt::format("the broker disconnected: {}", wire::reason_text(p.return_code, wire::v5));
        log::warn("{}: {}", cfg_.src(), why_dead_);
        return false;
    default:
        why_dead_ = fmt::format("MQTT: unexpected packet type {} from the broker", +p.type);
        log::warn("{}: {}", cfg_.src(), why_dead_);
        return false;
    }
}

bool WireClient::service(const std::function<void(const MqttArrival&)>& on_message) {
    if (fd_ < 0 || dead_) return false;
    // at most 16 reads (1 MiB) a pass: the loop's other descriptors get their turn
    for (int i = 0; i < 16; ++i) {
        long r = read_some();
        if (r < 0) {
            dead_ = true;
            return false;
        }
        wire::Packet p;
        for (;;) {
            auto got = dec_.next(p);
            if (!got) {
                log::warn("{}: {}", cfg_.src(), got.error().message);
                dead_ = true;
                return false;
            }
            if (!*got) break;
            if (!handle(p, on_message)) {
                dead_ = true;
                return false;
            }
        }
        if (r == 0 || (!tls_ && r < static_cast<long>(sizeof buf_))) break; // a short read took all there was
    }
    // keepalive: a PINGREQ after half the interval without writing; no answer within it = gone
    int64_t now = mono_us();
    int64_t ka = int64_t{cfg_.keepalive} * 1000000;
    if (ka > 0) {
        if (ping_out_ && now - ping_sent_us_ > ka) {
            why_dead_ = "no answer to a PINGREQ";
            dead_ = true;
            return false;
        }
        if (!ping_out_ && now - last_write_us_ >= ka / 2) {
            wire::pingreq(out_);
            ping_out_ = true;
            ping_sent_us_ = now;
        }
    }
    return true; // the session flushes once the publisher has added its messages
}

void WireClient::pending(std::vector<int>& out) {
    out.clear();
    while (!order_.empty() && state_[order_.front()] == free_id)
        order_.pop_front();
    for (uint16_t id : order_)
        if (state_[id] != free_id) out.push_back(id);
}

void WireClient::disconnect() {
    if (fd_ < 0) return;
    if (!dead_) {
        wire::disconnect(out_);
        // what is buffered (QoS 0 messages too) reaches the broker before the socket closes
        (void)write_all(mono_us() + int64_t{cfg_.connect_timeout_ms} * 1000);
    }
    close_socket();
}

} // namespace

std::unique_ptr<MqttClient> make_wire_client(MqttConfig cfg) { return std::make_unique<WireClient>(std::move(cfg)); }

} // namespace m2m
