#pragma once
// What a connection to a broker needs: the settings every MQTT tool shares (the client in
// mqtt/client, loadgen's connections), read from the broker options (mqtt/options).
#include <cstdint>
#include <string>

namespace m2m {

struct MqttConfig {
    std::string host = "localhost";
    int port = 1883;
    bool tls = false;
    bool websocket = false; // ws:// or wss://: MQTT in WebSocket frames (subprotocol mqtt)
    std::string ws_path;    // the HTTP path of the upgrade request
    int version = 4;        // 4 = MQTT 3.1.1, 5 = MQTT 5
    std::string client_id;
    int keepalive = 60;
    bool clean = true;
    uint32_t session_expiry = 0; // MQTT 5, seconds
    std::string user, password;
    bool has_password = false;
    // TLS
    std::string cafile, capath, cert, key;
    bool insecure = false;
    // last will
    std::string will_topic, will_payload;
    int will_qos = 0;
    bool will_retain = false;
    int connect_timeout_ms = 10000;
    int max_inflight = 20;
    int max_inflight_qos2 = 0; // QoS 2 messages in flight, when fewer than max_inflight (0: no cap)
    bool debug = false;        // -d: each packet sent and received, on stderr
    size_t max_message = 0;    // a received payload over this is skipped unbuffered (0: no limit)

    /// How records name this broker: mqtt://host:port (or mqtts://, ws://host:port/path, wss://).
    std::string src() const;
};

/// A generated client id, TOOL-PID-RANDOM in hex, at most 23 characters: unique per process.
std::string default_client_id(const std::string& tool);

} // namespace m2m
