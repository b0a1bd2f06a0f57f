#pragma once
// One MQTT connection on Paho's synchronous client, driven from the tool's own event loop:
// no Paho threads and no callbacks across threads. The tool polls fd() with its other
// descriptors and calls service() when the broker has sent something (and on a timer, for
// keepalive). Publishing never blocks: the caller keeps at most window() messages in flight.
#include "mqtt/config.hpp"
#include "util/error.hpp"
#include <MQTTClient.h>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace m2m {


/// One message from the broker, owned by Paho until the callback returns.
struct MqttArrival {
    std::string_view topic;
    std::string_view payload;
    int qos = 0;
    bool retain = false;
    bool dup = false;
    const MQTTProperties* props = nullptr; // MQTT 5
};

class MqttClient {
  public:
    explicit MqttClient(MqttConfig cfg);
    ~MqttClient();
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    /// Connects (blocking, at most the connect timeout). The error says why in words:
    /// "connection refused", "not authorised", "TLS: certificate verify failed". Its code is
    /// Exit::unavailable; `refused()` tells an answer from the broker (a CONNACK refusal) apart
    /// from a broker that could not be reached.
    Status connect();
    bool refused() const { return refused_; }
    /// Whether the refusal is about credentials (retrying will not help).
    bool auth_refused() const { return auth_refused_; }
    bool connected();
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
    Status subscribe(const std::vector<Subscription>& subs);

    /// Publishes without blocking. Returns the delivery token (0 at QoS 0), or an error when the
    /// connection is gone.
    Expected<int> publish(const char* topic, std::string_view payload, int qos, bool retain,
                          MQTTProperties* props);

    /// Handles what the broker sent (acknowledgements, messages, pings). Returns false when
    /// the connection was lost.
    bool service(const std::function<void(const MqttArrival&)>& on_message);

    /// The tokens of QoS >= 1 messages not yet acknowledged.
    void pending(std::vector<int>& out);
    /// MQTT 5: tokens the broker acknowledged with a failure reason code, and the reasons.
    std::vector<std::pair<int, std::string>> take_failed();

    void disconnect();
    const MqttConfig& config() const { return cfg_; }

  private:
    void create();
    void destroy();
    static void on_published(void* ctx, int token, int packet_type, MQTTProperties* props,
                             enum MQTTReasonCodes reason);

    MqttConfig cfg_;
    MQTTClient client_ = nullptr;
    int fd_ = -1;
    int window_ = 1;
    bool refused_ = false, auth_refused_ = false, session_present_ = false;
    std::string ssl_error_;
    std::vector<std::pair<int, std::string>> failed_;
};


/// "Paho MQTT C 1.3.12 (OpenSSL ...)" for --version.
std::string paho_version();

} // namespace m2m
