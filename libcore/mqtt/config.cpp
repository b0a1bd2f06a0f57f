#include "mqtt/config.hpp"
#include <fmt/format.h>
#include <sys/random.h>
#include <unistd.h>

namespace m2m {

std::string MqttConfig::src() const {
    bool v6 = host.find(':') != std::string::npos;
    const char* scheme = websocket ? (tls ? "wss" : "ws") : (tls ? "mqtts" : "mqtt");
    return fmt::format("{}://{}{}{}:{}{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port,
                       websocket ? ws_path : "");
}

std::string default_client_id(const std::string& tool) {
    // getrandom(2) rather than std::random_device, whose set-up shows at every start (#18)
    uint16_t r = 0;
    if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r))
        r = static_cast<uint16_t>(::getpid() * 2654435761u >> 16);
    // Short enough for brokers that keep MQTT 3.1.1's 23-character limit.
    std::string id = fmt::format("{}-{:x}-{:04x}", tool, getpid() & 0xffffff, r);
    return id.substr(0, 23);
}

} // namespace m2m
