#pragma once
// iot-sub -F FORMAT and -v: mosquitto_sub's output formats, byte for byte, so scripts written for
// mosquitto_sub keep working: %t topic, %p payload, %x/%X hex, %l length, %q QoS, %r retain, %m
// message id, %j/%J JSON, %I ISO-8601 time, %U epoch with nanoseconds, MQTT 5 properties (%A %C %D
// %E %F %P %R %S), flags, field width and maximum width; @X strftime and @N nanoseconds; \n \t \0
// and the other escapes (mosquitto_sub(1), OUTPUT FORMAT).
#include "mqtt/client.hpp"
#include "util/error.hpp"
#include <string>
#include <vector>

namespace m2m {

class MqttFormat {
  public:
    /// Checks FORMAT as mosquitto_sub does; a bad one is a usage error naming it.
    static Expected<MqttFormat> parse(const std::string& format);
    /// Appends message `m` as FORMAT says. `now_ns` is the wall clock in nanoseconds. False when %J
    /// meets a payload that is not JSON: %J is left empty and `why` says so (the rest is there).
    bool render(const MqttArrival& m, int mid, int64_t now_ns, std::string& out, std::string& why) const;

  private:
    struct Item {
        char kind = 0; // 0: literal text; '%' or '@': a sequence
        char code = 0;
        std::string text;
        bool left = false, zero = false;
        int width = -1, precision = -1;
    };
    std::vector<Item> items_;
};

} // namespace m2m
