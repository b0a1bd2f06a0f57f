#include "mqttwire/trace.hpp"
#include <fmt/format.h>

namespace m2m::wire {

namespace {

const char* type_name(int t) {
    static const char* names[] = {"RESERVED", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
                                  "PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
                                  "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH"};
    return names[t & 15];
}

struct Reader {
    std::string_view s;
    size_t at = 0;
    bool ok = true;
    size_t left() const { return at <= s.size() ? s.size() - at : 0; }
    unsigned u8() {
        if (left() < 1) return ok = false, 0;
        return static_cast<unsigned char>(s[at++]);
    }
    unsigned u16() {
        unsigned hi = u8();
        return hi << 8 | u8();
    }
    uint32_t varint() {
        uint32_t v = 0;
        for (int shift = 0; shift < 28; shift += 7) {
            unsigned b = u8();
            v |= (b & 0x7F) << shift;
            if (!(b & 0x80)) break;
        }
        return v;
    }
    std::string_view str() {
        unsigned n = u16();
        if (left() < n) return ok = false, std::string_view();
        auto out = s.substr(at, n);
        at += n;
        return out;
    }
};

} // namespace

std::string describe_sent(std::string_view packet, int version) {
    Reader r{packet};
    unsigned b0 = r.u8();
    r.varint(); // remaining length
    int type = static_cast<int>(b0 >> 4);
    bool five = version == v5;
    switch (type) {
    case PUBLISH: {
        int q = (b0 >> 1) & 3;
        auto topic = r.str();
        unsigned id = q ? r.u16() : 0;
        if (five) r.at += r.varint();
        return fmt::format("PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))", (b0 >> 3) & 1, q, b0 & 1, id,
                           topic, r.left());
    }
    case PUBACK:
    case PUBREC: {
        unsigned id = r.u16();
        unsigned rc = r.left() ? r.u8() : 0;
        return fmt::format("{} (m{}, rc{})", type_name(type), id, rc);
    }
    case PUBREL:
    case PUBCOMP:
        return fmt::format("{} (m{})", type_name(type), r.u16());
    case SUBSCRIBE:
    case UNSUBSCRIBE: {
        unsigned id = r.u16();
        if (five) r.at += r.varint();
        std::string out = fmt::format("{} (Mid: {}", type_name(type), id);
        while (r.left() && r.ok) {
            auto f = r.str();
            if (type == SUBSCRIBE) {
                unsigned o = r.u8();
                out += fmt::format(", Topic: {}, QoS: {}, Options: 0x{:02x}", f, o & 3, o & ~3u);
            } else {
                out += fmt::format(", Topic: {}", f);
            }
        }
        return out + ")";
    }
    default:
        return type_name(type);
    }
}

std::string describe_received(const Packet& p) {
    switch (p.type) {
    case CONNACK:
        return fmt::format("CONNACK ({})", p.return_code);
    case PUBLISH:
        return fmt::format("PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))", p.dup ? 1 : 0, p.qos,
                           p.retain ? 1 : 0, p.id, p.topic, p.oversize ? p.oversize : p.payload.size());
    case PUBACK:
    case PUBCOMP:
        return fmt::format("{} (Mid: {}, RC:{})", type_name(p.type), p.id, p.return_code);
    case PUBREC:
    case PUBREL:
        return fmt::format("{} (Mid: {})", type_name(p.type), p.id);
    case DISCONNECT:
        return fmt::format("DISCONNECT ({})", p.return_code);
    default:
        return type_name(p.type);
    }
}

} // namespace m2m::wire
