#pragma once
// MQTT 3.1.1 on the wire, without Paho: packet encoders and an incremental packet decoder. Pure
// (bytes in, packets out). The hot path of loadgen -- thousands of connections, one thread --
// where Paho's per-client threads or 100 ms waits do not fit (see the session notes).
#include "util/error.hpp"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::wire {

enum Type : uint8_t {
    CONNECT = 1,
    CONNACK = 2,
    PUBLISH = 3,
    PUBACK = 4,
    PUBREC = 5,
    PUBREL = 6,
    PUBCOMP = 7,
    SUBSCRIBE = 8,
    SUBACK = 9,
    UNSUBSCRIBE = 10,
    UNSUBACK = 11,
    PINGREQ = 12,
    PINGRESP = 13,
    DISCONNECT = 14
};

struct Connect {
    std::string client_id;
    uint16_t keepalive = 60;
    bool clean = true;
    std::string user, password;
    bool has_user = false, has_password = false;
};

void connect(std::string& out, const Connect& c);
/// PUBLISH; `id` is ignored at QoS 0.
void publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
             uint16_t id, bool dup = false);
void puback(std::string& out, uint16_t id);
void subscribe(std::string& out, uint16_t id, const std::vector<std::pair<std::string, int>>& filters);
void pingreq(std::string& out);
void disconnect(std::string& out);

/// One decoded packet. For PUBLISH, topic and payload view the decoder's buffer: valid until
/// the next feed().
struct Packet {
    Type type{};
    uint8_t flags = 0;
    uint16_t id = 0; // packet identifier (PUBLISH QoS > 0, PUBACK, SUBACK, ...)
    int qos = 0;
    bool retain = false, dup = false;
    std::string_view topic, payload;
    int return_code = 0; // CONNACK return code, first SUBACK code
    bool session_present = false;
};

/// Splits a byte stream into packets (any split gives the same packets). A malformed packet
/// is an error naming what is wrong; the connection is then unusable.
class Decoder {
  public:
    explicit Decoder(size_t max_packet = 1 << 20) : max_(max_packet) {}
    /// Appends bytes; then call next() until it returns false.
    void feed(std::string_view bytes);
    /// The next whole packet, if one is buffered. An error is a protocol violation.
    Expected<bool> next(Packet& p);

  private:
    std::string buf_;
    size_t at_ = 0, max_;
};

} // namespace m2m::wire
