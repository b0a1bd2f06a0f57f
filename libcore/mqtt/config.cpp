#include "mqtt/config.hpp"
#include <fmt/format.h>
#include <random>
#include <unistd.h>

namespace m2m {

std::string MqttConfig::src() const {
    bool v6 = host.find(':') != std::string::npos;
    const char* scheme = websocket ? (tls ? "wss" : "ws") : (tls ? "mqtts" : "mqtt");
    return fmt::format("{}://{}{}{}:{}{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port,
                       websocket ? ws_path : "");
}

std::string default_client_id(const std::string& tool) {
    std::random_device rd;
    // Short enough for brokers that keep MQTT 3.1.1's 23-character limit.
    std::string id = fmt::format("{}-{:x}-{:04x}", tool, getpid() & 0xffffff, rd() & 0xffff);
    return id.substr(0, 23);
}

} // namespace m2m
