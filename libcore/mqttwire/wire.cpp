#include "mqttwire/wire.hpp"
#include <fmt/format.h>

namespace m2m::wire {

namespace {

void u16(std::string& out, size_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
    out.push_back(static_cast<char>(v & 0xFF));
}
void str(std::string& out, std::string_view s) {
    u16(out, s.size());
    out.append(s);
}
void header(std::string& out, uint8_t first, size_t remaining) {
    out.push_back(static_cast<char>(first));
    do {
        uint8_t b = remaining & 0x7F;
        remaining >>= 7;
        if (remaining) b |= 0x80;
        out.push_back(static_cast<char>(b));
    } while (remaining);
}
int rd16(std::string_view s, size_t i) {
    return (static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]);
}

} // namespace

void connect(std::string& out, const Connect& c) {
    size_t len = 10 + 2 + c.client_id.size();
    if (c.has_user) len += 2 + c.user.size();
    if (c.has_password) len += 2 + c.password.size();
    header(out, CONNECT << 4, len);
    str(out, "MQTT");
    out.push_back(4); // 3.1.1
    uint8_t flags = (c.clean ? 0x02 : 0) | (c.has_user ? 0x80 : 0) | (c.has_password ? 0x40 : 0);
    out.push_back(static_cast<char>(flags));
    u16(out, c.keepalive);
    str(out, c.client_id);
    if (c.has_user) str(out, c.user);
    if (c.has_password) str(out, c.password);
}

void publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
             uint16_t id, bool dup) {
    size_t len = 2 + topic.size() + (qos ? 2 : 0) + payload.size();
    header(out, static_cast<uint8_t>(PUBLISH << 4 | (dup ? 8 : 0) | qos << 1 | (retain ? 1 : 0)), len);
    str(out, topic);
    if (qos) u16(out, id);
    out.append(payload);
}

void puback(std::string& out, uint16_t id) {
    header(out, PUBACK << 4, 2);
    u16(out, id);
}

void subscribe(std::string& out, uint16_t id, const std::vector<std::pair<std::string, int>>& filters) {
    size_t len = 2;
    for (auto& [f, q] : filters)
        len += 2 + f.size() + 1;
    header(out, SUBSCRIBE << 4 | 0x02, len);
    u16(out, id);
    for (auto& [f, q] : filters) {
        str(out, f);
        out.push_back(static_cast<char>(q));
    }
}

void pingreq(std::string& out) {
    header(out, PINGREQ << 4, 0);
}
void disconnect(std::string& out) {
    header(out, DISCONNECT << 4, 0);
}

void Decoder::feed(std::string_view bytes) {
    if (at_ > 0 && at_ >= buf_.size() / 2) { // drop what was consumed, now and then
        buf_.erase(0, at_);
        at_ = 0;
    }
    buf_.append(bytes);
}

Expected<bool> Decoder::next(Packet& p) {
    std::string_view b = std::string_view(buf_).substr(at_);
    if (b.size() < 2) return false;
    size_t remaining = 0, i = 1;
    for (int shift = 0;; shift += 7, ++i) {
        if (i >= b.size()) return false;
        if (i > 4) return fail(Exit::bad_data, "MQTT: a remaining length longer than 4 bytes");
        remaining |= static_cast<size_t>(b[i] & 0x7F) << shift;
        if (!(b[i] & 0x80)) break;
    }
    ++i;
    if (remaining > max_)
        return fail(Exit::bad_data, fmt::format("MQTT: a {}-byte packet is over the limit", remaining));
    if (b.size() < i + remaining) return false;
    std::string_view body = b.substr(i, remaining);
    at_ += i + remaining;
    uint8_t first = static_cast<uint8_t>(b[0]);
    p = Packet{};
    p.type = static_cast<Type>(first >> 4);
    p.flags = first & 0x0F;
    auto need = [&](size_t n) -> Status {
        if (body.size() < n)
            return fail(Exit::bad_data, fmt::format("MQTT: a packet of type {} with {} byte(s), too short",
                                                    +p.type, body.size()));
        return {};
    };
    switch (p.type) {
    case CONNACK:
        if (auto st = need(2); !st) return std::unexpected(st.error());
        p.session_present = body[0] & 1;
        p.return_code = static_cast<unsigned char>(body[1]);
        break;
    case PUBLISH: {
        p.qos = (p.flags >> 1) & 3;
        p.retain = p.flags & 1;
        p.dup = p.flags & 8;
        if (p.qos == 3) return fail(Exit::bad_data, "MQTT: PUBLISH with QoS 3");
        if (auto st = need(2); !st) return std::unexpected(st.error());
        size_t tl = static_cast<size_t>(rd16(body, 0));
        size_t off = 2 + tl + (p.qos ? 2 : 0);
        if (auto st = need(off); !st) return std::unexpected(st.error());
        p.topic = body.substr(2, tl);
        if (p.qos) p.id = static_cast<uint16_t>(rd16(body, 2 + tl));
        p.payload = body.substr(off);
        break;
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK:
        if (auto st = need(2); !st) return std::unexpected(st.error());
        p.id = static_cast<uint16_t>(rd16(body, 0));
        break;
    case SUBACK:
        if (auto st = need(3); !st) return std::unexpected(st.error());
        p.id = static_cast<uint16_t>(rd16(body, 0));
        p.return_code = static_cast<unsigned char>(body[2]);
        break;
    case PINGRESP:
    case PINGREQ:
    case DISCONNECT:
    case CONNECT:
    case SUBSCRIBE:
    case UNSUBSCRIBE:
        break;
    default:
        return fail(Exit::bad_data, fmt::format("MQTT: unknown packet type {}", +p.type));
    }
    return true;
}

} // namespace m2m::wire
