#pragma once
// m2mkit's MQTT client: one connection to a broker on libcore's own packet codec (mqttwire) and
// OpenSSL, driven from the tool's own event loop -- no threads, no callbacks across threads.
// The tool polls fd() with its other descriptors and calls service() when the broker has sent
// something (and on a timer, for keepalive). Publishing never blocks: publish() appends to a
// bounded write buffer and the caller keeps at most window() messages in flight. A burst of
// publishes goes out in one write, and one read takes every acknowledgement that has arrived.
// Acknowledgements are reported by the client (take_completed), not inferred by the caller.
// Every tool speaks MQTT through this class (README: "Why m2mkit speaks MQTT itself").
#include "mqtt/config.hpp"
#include "util/error.hpp"
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

namespace wire {
class TlsContext;
class Transport;
class Decoder;
struct Packet;
} // namespace wire

/// One message from the broker, valid until the callback returns.
struct MqttArrival {
    std::string_view topic;
    std::string_view payload;
    int qos = 0;
    bool retain = false;
    bool dup = false;
    std::string_view props; // MQTT 5: the message's property block (props_to_json shows it)
    size_t oversize = 0;    // over MqttConfig::max_message: the payload's size (payload empty, skipped)
    int id = 0;             // the packet identifier (QoS 1/2; 0 at QoS 0)
};

struct PubProps;

/// A QoS 1/2 message the broker acknowledged: `token` is what publish() returned; a broker that
/// acknowledged with an MQTT 5 failure reason code leaves `failed` set and says why.
struct MqttCompletion {
    int token = 0;
    bool failed = false;
    std::string why;
};

class MqttClient {
  public:
    explicit MqttClient(MqttConfig cfg);
    ~MqttClient();
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    /// Connects (blocking, at most the connect timeout). The error says why in words:
    /// "connection refused", "refused: not authorised", "TLS: the broker's certificate is not
    /// trusted". Its code is Exit::unavailable; `refused()` tells an answer from the broker (a
    /// CONNACK refusal) apart from a broker that could not be reached.
    Status connect();
    bool refused() const { return refused_; }
    /// Whether the refusal is about credentials (retrying will not help).
    bool auth_refused() const { return auth_refused_; }
    bool connected() const { return fd() >= 0 && !dead_; }
    int fd() const;
    /// Bytes read from the socket since the client was made (all connections).
    uint64_t bytes_in() const { return bytes_in_; }
    /// How many QoS >= 1 messages may be in flight: --max-inflight, capped by the broker's
    /// Receive Maximum (MQTT 5).
    int window() const { return window_; }
    /// Whether the broker kept a session for this client id (clean session off).
    bool session_present() const { return session_present_; }

    struct Subscription {
        std::string filter;
        int qos = 0;
        bool no_local = false;
        bool retain_as_published = false;
        int retain_handling = 0;
    };
    /// Subscribes (blocking until SUBACK, at most the connect timeout); a refused filter is an
    /// error naming it. Messages that arrive meanwhile are kept and handed over by the next service().
    Status subscribe(const std::vector<Subscription>& subs);
    /// Unsubscribes (blocking until UNSUBACK, at most the connect timeout); under MQTT 5 a filter the
    /// broker refused, or had no subscription for, is an error naming it and the reason.
    Status unsubscribe(const std::vector<std::string>& filters);

    /// Publishes without blocking (MQTT 5 properties in `props`, or null). Returns the token
    /// (the packet identifier; 0 at QoS 0), or an error: Exit::runtime when the connection is
    /// gone (the message stays the caller's), Exit::bad_data when no broker could take it (a
    /// topic or message over the protocol's limits).
    Expected<int> publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                          const PubProps* props);
    /// Writes what publish() buffered, as far as the socket takes it. False when the connection broke.
    bool flush();
    /// Whether buffered bytes wait for the socket to take them (watch for POLLOUT).
    bool wants_write() const;
    /// Whether so much waits to be written that publishing should pause.
    bool blocked() const;
    /// QoS 0 messages publish() took that never reached the socket before the connection was
    /// lost (counted as drops); the count restarts.
    uint64_t take_unsent_qos0();

    /// Handles what the broker sent (acknowledgements, messages, pings). Returns false when
    /// the connection was lost.
    bool service(const std::function<void(const MqttArrival&)>& on_message);

    /// The QoS 1/2 messages acknowledged since the last call, in the order the broker answered.
    std::vector<MqttCompletion> take_completed();
    /// How many QoS 1/2 messages wait for the broker's acknowledgement.
    int in_flight() const { return static_cast<int>(in_flight_); }

    /// Sends DISCONNECT after what is buffered, then closes (the will is not published).
    void disconnect();
    const MqttConfig& config() const { return cfg_; }
    /// The last will's message for the next connect() (a Sparkplug NDEATH's bdSeq changes per connection).
    void set_will_payload(std::string payload) { cfg_.will_payload = std::move(payload); }
    /// Why the connection was lost, in words ("" while connected).
    const std::string& why_lost() const { return why_dead_; }

  private:
    enum State : uint8_t { free_id = 0, want_puback, want_pubrec, want_pubcomp };
    struct Held { // a message that arrived during subscribe()
        std::string topic, payload, props;
        int qos;
        bool retain, dup;
        uint16_t id;
        size_t oversize;
    };
    int version() const;
    /// Runs an encoder that appends one packet to out_, and traces it under --debug.
    template <typename F> void traced(F&& encode) {
        size_t mark = out_.size();
        encode();
        if (cfg_.debug) trace_sent(mark);
    }
    void trace_sent(size_t mark);
    void trace_received(const wire::Packet& p);
    /// Sends what is buffered, then reads (holding messages) until the (UN)SUBACK for suback_id_.
    Status await_ack(const char* what);
    void close_socket();
    /// Resolves and connects a socket, then steps the transport's handshakes (TLS, WebSocket).
    std::string open_socket(int64_t deadline);
    std::string write_all(int64_t deadline);
    /// One read into the decoder: bytes got, 0 when none now, -1 when the connection is gone (why_dead_).
    long read_some();
    bool wait(short events, int64_t deadline);
    bool handle(const wire::Packet& p, const std::function<void(const MqttArrival&)>& on_message);
    void deliver(const MqttArrival& a, uint16_t id,
                 const std::function<void(const MqttArrival&)>& on_message);
    void done(uint16_t id, bool failed, std::string why);

    MqttConfig cfg_;
    std::unique_ptr<wire::Transport> t_;
    uint64_t bytes_in_ = 0;
    int window_ = 1;
    bool refused_ = false, auth_refused_ = false, session_present_ = false;
    std::shared_ptr<wire::TlsContext> tls_ctx_;
    std::unique_ptr<wire::Decoder> dec_;
    std::string out_;
    size_t off_ = 0;
    uint64_t base_ = 0;            // the stream offset of out_[0]
    std::deque<uint64_t> q0_ends_; // where each QoS 0 message not yet written ends in the stream
    bool dead_ = false;
    std::string why_dead_;
    std::vector<uint8_t> state_;    // per packet identifier: what we wait for
    std::vector<bool> incoming_q2_; // per identifier: a QoS 2 message delivered, its PUBREL not yet seen
    size_t in_flight_ = 0;
    uint16_t next_id_ = 0;
    std::vector<MqttCompletion> completed_;
    bool holding_ = false;
    uint16_t suback_id_ = 0;
    std::string suback_codes_;
    bool suback_seen_ = false;
    std::deque<Held> held_;
    int64_t last_write_us_ = 0, ping_sent_us_ = 0;
    bool ping_out_ = false;
    bool subscribed_ = false; // on this connection: the broker may be sending messages
    /// Whether the broker can have nothing more to send (disconnect() then closes at once).
    bool quiet_broker() const;
};

/// "MQTT client: m2mkit's own (mqttwire), OpenSSL 3.0.x" for --version.
std::string mqtt_client_version();

} // namespace m2m
