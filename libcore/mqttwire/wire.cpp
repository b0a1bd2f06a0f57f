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
int rd16(std::string_view s, size_t i) {
    return (static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]);
}
void varint(std::string& out, size_t v) {
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        if (v) b |= 0x80;
        out.push_back(static_cast<char>(b));
    } while (v);
}
size_t varint_size(size_t v) {
    size_t n = 1;
    while (v >= 128)
        v >>= 7, ++n;
    return n;
}
void header(std::string& out, uint8_t first, size_t remaining) {
    out.push_back(static_cast<char>(first));
    varint(out, remaining);
}
/// A variable byte integer at s[i]; advances i. False when cut short or longer than 4 bytes.
bool read_varint(std::string_view s, size_t& i, size_t& v) {
    v = 0;
    for (int k = 0; k < 4; ++k) {
        if (i >= s.size()) return false;
        auto b = static_cast<unsigned char>(s[i++]);
        v |= static_cast<size_t>(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) return true;
    }
    return false;
}

/// UTF-8 strings and binary data: content type, response topic, correlation data, client id,
/// authentication method and data, response information, server reference, reason string.
bool is_string_property(size_t id) {
    switch (id) {
    case 0x03:
    case 0x08:
    case 0x09:
    case 0x12:
    case 0x15:
    case 0x16:
    case 0x1A:
    case 0x1C:
    case 0x1F:
        return true;
    default:
        return false;
    }
}

/// Walks an MQTT 5 property block; fn(id, value) sees each property's bytes (for a user property,
/// key and value each with their length prefix). False when malformed or an id is unknown.
template <class Fn> bool walk_props(std::string_view p, Fn&& fn) {
    size_t i = 0;
    while (i < p.size()) {
        size_t id = 0;
        if (!read_varint(p, i, id)) return false;
        size_t start = i, n = 0;
        auto str_at = [&](size_t at, size_t& len) {
            if (at + 2 > p.size()) return false;
            len = 2 + static_cast<size_t>(rd16(p, at));
            return at + len <= p.size();
        };
        switch (id) {
        case 0x01:
        case 0x17:
        case 0x19:
        case 0x24:
        case 0x25:
        case 0x28:
        case 0x29:
        case 0x2A:
            n = 1;
            break;
        case 0x13:
        case 0x21:
        case 0x22:
        case 0x23:
            n = 2;
            break;
        case 0x02:
        case 0x11:
        case 0x18:
        case 0x27:
            n = 4;
            break;
        case 0x0B: {
            size_t v;
            if (!read_varint(p, i, v)) return false;
            n = i - start;
            i = start;
            break;
        }
        case 0x26: {
            size_t k, v;
            if (!str_at(i, k) || !str_at(i + k, v)) return false;
            n = k + v;
            break;
        }
        default:
            if (!is_string_property(id) || !str_at(i, n)) return false;
            break;
        }
        if (i + n > p.size()) return false;
        fn(id, p.substr(i, n));
        i += n;
    }
    return true;
}

} // namespace

void PropWriter::byte(uint8_t id, uint8_t v) {
    bytes.push_back(static_cast<char>(id));
    bytes.push_back(static_cast<char>(v));
}
void PropWriter::u16(uint8_t id, uint16_t v) {
    bytes.push_back(static_cast<char>(id));
    wire::u16(bytes, v);
}
void PropWriter::u32(uint8_t id, uint32_t v) {
    bytes.push_back(static_cast<char>(id));
    for (int s = 24; s >= 0; s -= 8)
        bytes.push_back(static_cast<char>((v >> s) & 0xFF));
}
void PropWriter::str(uint8_t id, std::string_view s) {
    bytes.push_back(static_cast<char>(id));
    wire::str(bytes, s);
}
void PropWriter::pair(uint8_t id, std::string_view k, std::string_view v) {
    bytes.push_back(static_cast<char>(id));
    wire::str(bytes, k);
    wire::str(bytes, v);
}

void connect(std::string& out, const Connect& c) {
    bool five = c.version == v5;
    size_t len = 10 + 2 + c.client_id.size();
    if (five) len += varint_size(c.props.size()) + c.props.size();
    if (c.has_will) len += (five ? 1 : 0) + 2 + c.will_topic.size() + 2 + c.will_payload.size();
    if (c.has_user) len += 2 + c.user.size();
    if (c.has_password) len += 2 + c.password.size();
    header(out, CONNECT << 4, len);
    str(out, "MQTT");
    out.push_back(static_cast<char>(five ? v5 : v311));
    uint8_t flags = (c.clean ? 0x02 : 0) | (c.has_user ? 0x80 : 0) | (c.has_password ? 0x40 : 0);
    if (c.has_will) flags |= static_cast<uint8_t>(0x04 | (c.will_qos & 3) << 3 | (c.will_retain ? 0x20 : 0));
    out.push_back(static_cast<char>(flags));
    u16(out, c.keepalive);
    if (five) {
        varint(out, c.props.size());
        out.append(c.props);
    }
    str(out, c.client_id);
    if (c.has_will) {
        if (five) out.push_back(0); // no will properties
        str(out, c.will_topic);
        str(out, c.will_payload);
    }
    if (c.has_user) str(out, c.user);
    if (c.has_password) str(out, c.password);
}

void publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
             uint16_t id, bool dup, int version, UserProps user, std::string_view more) {
    size_t props = more.size();
    for (auto& [k, v] : user)
        props += 1 + 2 + k.size() + 2 + v.size();
    size_t len = 2 + topic.size() + (qos ? 2 : 0) + payload.size();
    if (version == v5) len += varint_size(props) + props;
    header(out, static_cast<uint8_t>(PUBLISH << 4 | (dup ? 8 : 0) | qos << 1 | (retain ? 1 : 0)), len);
    str(out, topic);
    if (qos) u16(out, id);
    if (version == v5) {
        varint(out, props);
        for (auto& [k, v] : user) {
            out.push_back(0x26);
            str(out, k);
            str(out, v);
        }
        out.append(more);
    }
    out.append(payload);
}

void puback(std::string& out, uint16_t id) {
    header(out, PUBACK << 4, 2);
    u16(out, id);
}

void ack(std::string& out, Type type, uint16_t id) {
    header(out, static_cast<uint8_t>(type << 4 | (type == PUBREL ? 0x02 : 0)), 2);
    u16(out, id);
}

void subscribe(std::string& out, uint16_t id, const std::vector<Filter>& filters, int version) {
    size_t len = 2 + (version == v5 ? 1 : 0);
    for (auto& f : filters)
        len += 2 + f.filter.size() + 1;
    header(out, SUBSCRIBE << 4 | 0x02, len);
    u16(out, id);
    if (version == v5) out.push_back(0); // no properties
    for (auto& f : filters) {
        str(out, f.filter);
        int o = f.qos & 3;
        if (version == v5)
            o |= (f.no_local ? 0x04 : 0) | (f.retain_as_published ? 0x08 : 0) | (f.retain_handling & 3) << 4;
        out.push_back(static_cast<char>(o));
    }
}

void unsubscribe(std::string& out, uint16_t id, const std::vector<std::string>& filters, int version) {
    size_t len = 2 + (version == v5 ? 1 : 0);
    for (auto& f : filters)
        len += 2 + f.size();
    header(out, UNSUBSCRIBE << 4 | 0x02, len);
    u16(out, id);
    if (version == v5) out.push_back(0); // no properties
    for (auto& f : filters)
        str(out, f);
}

void pingreq(std::string& out) {
    header(out, PINGREQ << 4, 0);
}
void disconnect(std::string& out) {
    header(out, DISCONNECT << 4, 0);
}

void Decoder::feed(std::string_view bytes) {
    if (skipping_) { // the rest of an oversize PUBLISH
        size_t n = std::min(skipping_, bytes.size());
        bytes.remove_prefix(n);
        skipping_ -= n;
    }
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
    if ((static_cast<uint8_t>(b[0]) >> 4) == PUBLISH && remaining > skip_over_) {
        // the header is enough: the payload is skipped, not buffered
        std::string_view h = b.substr(i, std::min(remaining, b.size() - i));
        int qos = (static_cast<uint8_t>(b[0]) >> 1) & 3;
        if (h.size() < 2) return false;
        size_t off = 2 + static_cast<size_t>(rd16(h, 0)) + (qos ? 2 : 0);
        size_t props_at = off, props_len = 0;
        if (version_ == v5) {
            if (h.size() < off + 4 && h.size() < remaining) return false; // a varint may need 4 bytes
            if (!read_varint(h, props_at, props_len))
                return fail(Exit::bad_data, "MQTT: a PUBLISH whose property length is cut short");
            off = props_at + props_len;
        }
        if (off > remaining)
            return fail(Exit::bad_data, "MQTT: a PUBLISH whose header is longer than the packet");
        if (remaining - off > skip_over_) {
            if (h.size() < off) return false;
            p = Packet{};
            p.type = PUBLISH;
            p.flags = static_cast<uint8_t>(b[0]) & 0x0F;
            p.qos = qos;
            p.retain = p.flags & 1;
            p.dup = p.flags & 8;
            if (qos == 3) return fail(Exit::bad_data, "MQTT: PUBLISH with QoS 3");
            size_t tl = static_cast<size_t>(rd16(h, 0));
            p.topic = h.substr(2, tl);
            if (qos) p.id = static_cast<uint16_t>(rd16(h, 2 + tl));
            if (version_ == v5) {
                p.props = h.substr(props_at, props_len);
                if (!walk_props(p.props, [](size_t, std::string_view) {}))
                    return fail(Exit::bad_data, "MQTT: a PUBLISH with a malformed property block");
            }
            p.oversize = remaining - off;
            skipping_ = remaining - h.size();
            at_ += i + h.size();
            return true;
        }
    }
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
    bool five = version_ == v5;
    // MQTT 5: a property block at body[at] (its length first); sets p.props
    auto props_at = [&](size_t& at) -> Status {
        size_t n = 0;
        if (!read_varint(body, at, n) || at + n > body.size())
            return fail(Exit::bad_data,
                        fmt::format("MQTT: a packet of type {} whose property length is cut short", +p.type));
        p.props = body.substr(at, n);
        if (!walk_props(p.props, [](size_t, std::string_view) {}))
            return fail(Exit::bad_data,
                        fmt::format("MQTT: a packet of type {} with a malformed property block", +p.type));
        at += n;
        return {};
    };
    switch (p.type) {
    case CONNACK: {
        if (auto st = need(2); !st) return std::unexpected(st.error());
        p.session_present = body[0] & 1;
        p.return_code = static_cast<unsigned char>(body[1]);
        size_t at = 2;
        if (five && body.size() > 2)
            if (auto st = props_at(at); !st) return std::unexpected(st.error());
        if (at != body.size() || p.flags != 0 || (static_cast<unsigned char>(body[0]) & 0xFE))
            return fail(Exit::bad_data,
                        fmt::format("MQTT: a malformed CONNACK ({} byte(s), flags {:#x}/{:#x})", body.size(),
                                    +p.flags, static_cast<unsigned char>(body[0])));
        break;
    }
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
        if (five)
            if (auto st = props_at(off); !st) return std::unexpected(st.error());
        p.payload = body.substr(off);
        break;
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP: {
        if (auto st = need(2); !st) return std::unexpected(st.error());
        p.id = static_cast<uint16_t>(rd16(body, 0));
        if (five && body.size() > 2) {
            p.return_code = static_cast<unsigned char>(body[2]);
            size_t at = 3;
            if (body.size() > 3)
                if (auto st = props_at(at); !st) return std::unexpected(st.error());
        }
        break;
    }
    case SUBACK:
    case UNSUBACK: {
        if (auto st = need(2); !st) return std::unexpected(st.error());
        p.id = static_cast<uint16_t>(rd16(body, 0));
        size_t at = 2;
        if (five)
            if (auto st = props_at(at); !st) return std::unexpected(st.error());
        if (p.type == SUBACK) {
            if (auto st = need(at + 1); !st) return std::unexpected(st.error());
            p.return_code = static_cast<unsigned char>(body[at]);
            p.codes = body.substr(at);
        } else if (five) { // MQTT 5 UNSUBACK: a reason code per filter (3.1.1 has none)
            p.codes = body.substr(at);
        }
        break;
    }
    case DISCONNECT:
    case AUTH:
        if (p.type == AUTH && !five) return fail(Exit::bad_data, "MQTT: AUTH in MQTT 3.1.1");
        if (five && !body.empty()) {
            p.return_code = static_cast<unsigned char>(body[0]);
            size_t at = 1;
            if (body.size() > 1)
                if (auto st = props_at(at); !st) return std::unexpected(st.error());
        }
        break;
    case PINGRESP:
    case PINGREQ:
    case CONNECT:
    case SUBSCRIBE:
    case UNSUBSCRIBE:
        break;
    default:
        return fail(Exit::bad_data, fmt::format("MQTT: unknown packet type {}", +p.type));
    }
    return true;
}

bool user_property(std::string_view props, std::string_view key, std::string_view& value) {
    bool found = false;
    walk_props(props, [&](size_t id, std::string_view v) {
        if (found || id != 0x26) return;
        size_t kl = static_cast<size_t>(rd16(v, 0));
        if (v.substr(2, kl) != key) return;
        value = v.substr(2 + kl + 2);
        found = true;
    });
    return found;
}

void each_property(std::string_view props, const std::function<void(int, std::string_view)>& fn) {
    walk_props(props, [&](size_t id, std::string_view v) {
        if (is_string_property(id)) v.remove_prefix(2); // strings and binary data without their length
        fn(static_cast<int>(id), v);
    });
}

uint64_t property_number(std::string_view v) {
    uint64_t n = 0;
    for (char c : v)
        n = n << 8 | static_cast<unsigned char>(c);
    return n;
}

uint64_t property_varint(std::string_view v) {
    uint64_t n = 0;
    int shift = 0;
    for (char c : v) {
        n |= static_cast<uint64_t>(static_cast<unsigned char>(c) & 0x7F) << shift;
        shift += 7;
    }
    return n;
}

std::pair<std::string_view, std::string_view> user_property(std::string_view v) {
    auto len = [](std::string_view s) {
        return s.size() < 2 ? 0
                            : static_cast<size_t>(static_cast<unsigned char>(s[0]) << 8 |
                                                  static_cast<unsigned char>(s[1]));
    };
    size_t kl = std::min(len(v), v.size() < 2 ? 0 : v.size() - 2);
    std::string_view rest = v.substr(std::min(v.size(), 2 + kl));
    return {v.substr(std::min<size_t>(2, v.size()), kl),
            rest.substr(std::min<size_t>(2, rest.size()), len(rest))};
}

bool string_property(std::string_view props, int id, std::string_view& value) {
    bool found = false;
    each_property(props, [&](int pid, std::string_view v) {
        if (found || pid != id || pid == 0x26) return;
        value = v;
        found = true;
    });
    return found;
}

bool numeric_property(std::string_view props, int id, uint32_t& value) {
    bool found = false;
    walk_props(props, [&](size_t pid, std::string_view v) {
        if (found || pid != static_cast<size_t>(id) || v.size() > 4 || pid == 0x0B) return;
        value = 0;
        for (char c : v)
            value = value << 8 | static_cast<unsigned char>(c);
        found = true;
    });
    return found;
}

std::string reason_text(int code, int version) {
    if (version != v5) {
        switch (code) {
        case 0:
            return "accepted";
        case 1:
            return "unacceptable protocol version";
        case 2:
            return "client identifier rejected";
        case 3:
            return "server unavailable";
        case 4:
            return "bad user name or password";
        case 5:
            return "not authorised";
        default:
            return fmt::format("return code {}", code);
        }
    }
    switch (code) {
    case 0x00:
        return "success";
    case 0x80:
        return "unspecified error";
    case 0x81:
        return "malformed packet";
    case 0x82:
        return "protocol error";
    case 0x83:
        return "implementation specific error";
    case 0x84:
        return "unsupported protocol version";
    case 0x85:
        return "client identifier not valid";
    case 0x86:
        return "bad user name or password";
    case 0x87:
        return "not authorised";
    case 0x88:
        return "server unavailable";
    case 0x89:
        return "server busy";
    case 0x8A:
        return "banned";
    case 0x8B:
        return "server shutting down";
    case 0x8E:
        return "session taken over";
    case 0x8F:
        return "topic filter invalid";
    case 0x90:
        return "topic name invalid";
    case 0x93:
        return "receive maximum exceeded";
    case 0x95:
        return "packet too large";
    case 0x97:
        return "quota exceeded";
    case 0x99:
        return "payload format invalid";
    case 0x9F:
        return "connection rate exceeded";
    default:
        return fmt::format("reason code 0x{:02x}", code);
    }
}

} // namespace m2m::wire
