#pragma once
// One MQTT connection driven from the tool's own event loop: no client threads and no
// callbacks across threads. The tool polls fd() with its other descriptors and calls service()
// when the broker has sent something (and on a timer, for keepalive). Publishing never blocks:
// the caller keeps at most window() messages in flight.
#include "mqtt/config.hpp"
#include "util/error.hpp"
#include <MQTTClient.h>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <string>
#include <vector>

namespace m2m {


/// One message from the broker, owned by the client until the callback returns.
struct MqttArrival {
    std::string_view topic;
    std::string_view payload;
    int qos = 0;
    bool retain = false;
    bool dup = false;
    const MQTTProperties* props = nullptr; // MQTT 5
};

struct PubProps;

/// One connection to a broker, driven from the tool's own event loop. Two implementations:
/// Paho's synchronous client (iot-sub, bridge, and iot-pub for --persist and --rr) and libcore's
/// own wire client (iot-pub and replay otherwise: it batches writes and reads every
/// acknowledgement a read brought at once, where Paho makes ~7 system calls per QoS 1 message;
/// see make_mqtt_client).
class MqttClient {
  public:
    explicit MqttClient(MqttConfig cfg) : cfg_(std::move(cfg)) {}
    virtual ~MqttClient() = default;
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    /// Connects (blocking, at most the connect timeout). The error says why in words:
    /// "connection refused", "not authorised", "TLS: certificate verify failed". Its code is
    /// Exit::unavailable; `refused()` tells an answer from the broker (a CONNACK refusal) apart
    /// from a broker that could not be reached.
    virtual Status connect() = 0;
    bool refused() const { return refused_; }
    /// Whether the refusal is about credentials (retrying will not help).
    bool auth_refused() const { return auth_refused_; }
    virtual bool connected() = 0;
    int fd() const { return fd_; }
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
    /// Subscribes (blocking until SUBACK); a refused filter is an error naming it.
    virtual Status subscribe(const std::vector<Subscription>& subs) = 0;

    /// Publishes without blocking (MQTT 5 properties in `props`, or null). Returns the delivery
    /// token (0 at QoS 0), or an error when the connection is gone (code Exit::runtime) or the
    /// message was refused (another code).
    virtual Expected<int> publish(const char* topic, std::string_view payload, int qos, bool retain,
                                  const PubProps* props) = 0;
    /// Writes what publish() buffered, as far as the socket takes it. False when the connection broke.
    virtual bool flush() { return true; }
    /// Whether buffered bytes wait for the socket to take them (watch for POLLOUT).
    virtual bool wants_write() const { return false; }
    /// Whether so much waits to be written that publishing should pause.
    virtual bool blocked() const { return false; }
    /// QoS 0 messages publish() took that never reached the socket before the connection was
    /// lost (counted as drops); the count restarts.
    virtual uint64_t take_unsent_qos0() { return 0; }

    /// Handles what the broker sent (acknowledgements, messages, pings). Returns false when
    /// the connection was lost.
    virtual bool service(const std::function<void(const MqttArrival&)>& on_message) = 0;

    /// The tokens of QoS >= 1 messages not yet acknowledged.
    virtual void pending(std::vector<int>& out) = 0;
    /// MQTT 5: tokens the broker acknowledged with a failure reason code, and the reasons.
    std::vector<std::pair<int, std::string>> take_failed() { return std::exchange(failed_, {}); }

    virtual void disconnect() = 0;
    const MqttConfig& config() const { return cfg_; }

  protected:
    MqttConfig cfg_;
    int fd_ = -1;
    int window_ = 1;
    bool refused_ = false, auth_refused_ = false, session_present_ = false;
    std::vector<std::pair<int, std::string>> failed_;
};

/// The client for a configuration: libcore's wire client when cfg.wire, else Paho's.
std::unique_ptr<MqttClient> make_mqtt_client(MqttConfig cfg);
std::unique_ptr<MqttClient> make_paho_client(MqttConfig cfg);
std::unique_ptr<MqttClient> make_wire_client(MqttConfig cfg);

/// "Paho MQTT C 1.3.12 (OpenSSL ...)" for --version.
std::string paho_version();

} // namespace m2m
