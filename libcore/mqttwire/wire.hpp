#pragma once
// MQTT 3.1.1 and 5 on the wire, without Paho: packet encoders and an incremental packet decoder.
// Pure (bytes in, packets out). The hot path of loadgen -- thousands of connections, one thread --
// where per-client threads or 100 ms waits do not fit (README: "Why m2mkit speaks MQTT itself").
#include "util/error.hpp"
#include <cstdint>
#include <functional>
#include <span>
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
    DISCONNECT = 14,
    AUTH = 15 // MQTT 5
};

/// The protocol level byte of CONNECT: 4 is MQTT 3.1.1, 5 is MQTT 5.
constexpr int v311 = 4, v5 = 5;
/// The largest remaining length MQTT can express (256 MiB - 1): the bound on any packet, both ways.
constexpr size_t max_packet = 268435455;

using UserProps = std::span<const std::pair<std::string_view, std::string_view>>;

struct Connect {
    std::string client_id;
    uint16_t keepalive = 60;
    bool clean = true;
    std::string user, password;
    bool has_user = false, has_password = false;
    int version = v311;
    // last will
    bool has_will = false;
    std::string will_topic, will_payload;
    int will_qos = 0;
    bool will_retain = false;
    std::string props; // MQTT 5: the CONNECT property block (see PropWriter)
};

/// An MQTT 5 property block, written property by property (without its length prefix).
struct PropWriter {
    std::string bytes;
    void byte(uint8_t id, uint8_t v);
    void u16(uint8_t id, uint16_t v);
    void u32(uint8_t id, uint32_t v);
    void str(uint8_t id, std::string_view s); // UTF-8 string or binary data
    void pair(uint8_t id, std::string_view k, std::string_view v);
};

void connect(std::string& out, const Connect& c);
/// PUBLISH; `id` is ignored at QoS 0. Under MQTT 5 the packet carries a property block: `user` as
/// user properties, then the ready-made properties `props` (both need version 5).
void publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
             uint16_t id, bool dup = false, int version = v311, UserProps user = {},
             std::string_view props = {});
/// PUBACK (the two-byte form, which MQTT 5 reads as "success, no properties").
void puback(std::string& out, uint16_t id);
/// PUBACK, PUBREC, PUBREL or PUBCOMP in the two-byte form (PUBREL with its required flags).
void ack(std::string& out, Type type, uint16_t id);
/// One topic filter of a SUBSCRIBE with its options (the MQTT 5 ones are left out under 3.1.1).
struct Filter {
    std::string filter;
    int qos = 0;
    bool no_local = false, retain_as_published = false;
    int retain_handling = 0; // 0 send retained, 1 only for a new subscription, 2 never
};
void subscribe(std::string& out, uint16_t id, const std::vector<Filter>& filters, int version = v311);
/// UNSUBSCRIBE of the filters (MQTT 5: no properties).
void unsubscribe(std::string& out, uint16_t id, const std::vector<std::string>& filters, int version = v311);
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
    int return_code = 0; // CONNACK return code, first SUBACK code; MQTT 5: the reason code of
                         // CONNACK, SUBACK (first), PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT
    bool session_present = false;
    std::string_view props; // MQTT 5: the property block (checked well-formed), without its length
    std::string_view codes; // SUBACK: one return (reason) code per filter, in order
    size_t oversize = 0;    // PUBLISH over skip_publish_over(): the payload's size (its bytes skipped)
};

/// Calls fn(id, value) for each property of a well-formed MQTT 5 property block, in order. The
/// value is the property's bytes: a number big-endian, a string or binary data without its
/// length prefix, a user property as key and value each with their two-byte length.
void each_property(std::string_view props, const std::function<void(int id, std::string_view value)>& fn);

/// The values each_property() hands over, read: a number (big-endian, 1 to 4 bytes), a variable
/// byte integer (subscription identifier), a user property's key and value.
uint64_t property_number(std::string_view value);
uint64_t property_varint(std::string_view value);
std::pair<std::string_view, std::string_view> user_property(std::string_view value);

/// The value of the first string or binary property `id` (content type, correlation data, ...).
bool string_property(std::string_view props, int id, std::string_view& value);

/// The value of the first user property named `key` in an MQTT 5 property block.
bool user_property(std::string_view props, std::string_view key, std::string_view& value);

/// The value of the first numeric property `id` (byte, two- or four-byte integer) in a block.
bool numeric_property(std::string_view props, int id, uint32_t& value);

/// Words for an MQTT 5 reason code (or a 3.1.1 CONNACK return code when `version` is 3.1.1).
std::string reason_text(int code, int version);

/// Splits a byte stream into packets (any split gives the same packets). A malformed packet
/// is an error naming what is wrong; the connection is then unusable.
class Decoder {
  public:
    explicit Decoder(size_t max_packet = 1 << 20, int version = v311) : max_(max_packet), version_(version) {}
    /// Appends bytes; then call next() until it returns false.
    void feed(std::string_view bytes);
    /// The next whole packet, if one is buffered. An error is a protocol violation.
    Expected<bool> next(Packet& p);
    /// A PUBLISH whose payload is over `bytes` is returned as soon as its header is in (topic,
    /// id, properties; `oversize` set, no payload) and the rest of it is skipped as it arrives,
    /// never buffered: a reader with a message size limit holds bounded memory.
    void skip_publish_over(size_t bytes) { skip_over_ = bytes; }

  private:
    std::string buf_;
    size_t at_ = 0, max_;
    size_t skip_over_ = SIZE_MAX, skipping_ = 0;
    int version_;
};

} // namespace m2m::wire
