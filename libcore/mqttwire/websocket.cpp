#include "mqttwire/websocket.hpp"
#include "mqttwire/tls.hpp"
#include <fmt/format.h>
#include <sys/random.h>

namespace m2m::wire {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// The value of header `name` (case-insensitive), trimmed; empty when absent.
std::string header_value(std::string_view header, std::string_view name) {
    std::string want = lower(name) + ":";
    size_t pos = header.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < header.size()) {
        size_t start = pos + 2, end = header.find("\r\n", start);
        if (end == std::string_view::npos) end = header.size();
        std::string_view line = header.substr(start, end - start);
        if (lower(line.substr(0, want.size())) == want) {
            std::string_view v = line.substr(want.size());
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
                v.remove_suffix(1);
            return std::string(v);
        }
        pos = end;
    }
    return {};
}

} // namespace

// the key's randomness, SHA-1 and base64 are OpenSSL's, in the module (mqttwire/tls.hpp)
std::string ws_key() {
    auto api = tls_api();
    return api ? (*api)->ws_key() : std::string();
}

std::string ws_accept(std::string_view key) {
    auto api = tls_api();
    return api ? (*api)->ws_accept(key) : std::string();
}

std::string ws_request(std::string_view host, int port, bool tls, std::string_view path,
                       std::string_view key) {
    bool v6 = host.find(':') != std::string_view::npos;
    std::string h = v6 ? fmt::format("[{}]", host) : std::string(host);
    if (port != (tls ? 443 : 80)) h += fmt::format(":{}", port);
    return fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
        path.empty() ? "/" : path, h, key);
}

Status ws_check_response(std::string_view header, std::string_view key) {
    std::string_view status = header.substr(0, header.find("\r\n"));
    if (!status.starts_with("HTTP/1.1 101") && !status.starts_with("HTTP/1.0 101"))
        return fail(Exit::unavailable,
                    fmt::format("WebSocket: the server answered '{}', not 101 Switching "
                                "Protocols (is this a WebSocket listener, and the path right?)",
                                status.substr(0, 120)));
    if (lower(header_value(header, "Upgrade")) != "websocket")
        return fail(Exit::unavailable, "WebSocket: the 101 answer has no 'Upgrade: websocket'");
    if (auto api = tls_api(); !api) return std::unexpected(api.error());
    if (header_value(header, "Sec-WebSocket-Accept") != ws_accept(key))
        return fail(Exit::unavailable, "WebSocket: Sec-WebSocket-Accept does not match the key sent");
    std::string proto = header_value(header, "Sec-WebSocket-Protocol");
    if (lower(proto) != "mqtt")
        return fail(Exit::unavailable, fmt::format("WebSocket: the server did not take subprotocol mqtt ({})",
                                                   proto.empty() ? "none chosen" : "chose '" + proto + "'"));
    return {};
}

void ws_frame(std::string& out, uint8_t opcode, std::string_view payload, uint32_t mask) {
    out += static_cast<char>(0x80 | opcode);
    size_t n = payload.size();
    if (n < 126) {
        out += static_cast<char>(0x80 | n);
    } else if (n <= 0xFFFF) {
        out += static_cast<char>(0x80 | 126);
        out += static_cast<char>(n >> 8);
        out += static_cast<char>(n & 0xFF);
    } else {
        out += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            out += static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF);
    }
    unsigned char m[4] = {static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
                          static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
    out.append(reinterpret_cast<const char*>(m), 4);
    size_t at = out.size();
    out.append(payload);
    for (size_t i = 0; i < n; ++i)
        out[at + i] = static_cast<char>(out[at + i] ^ m[i & 3]);
}

uint32_t ws_mask() {
    static uint64_t state = [] {
        uint64_t seed = 0;
        if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed) || !seed)
            seed = 0x9E3779B97F4A7C15u;
        return seed;
    }();
    state ^= state << 13; // xorshift64: unpredictable enough for a mask, cheap per frame
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>(state >> 16);
}

Expected<WsReader::Event> WsReader::feed(std::string_view bytes, std::string& data, std::string& control) {
    buf_.append(bytes);
    size_t pos = 0;
    Event ev = Event::none;
    auto bad = [&](std::string why) {
        buf_.clear();
        return fail(Exit::runtime, "WebSocket: " + why);
    };
    while (pos < buf_.size()) {
        if (remaining_ > 0) { // inside a data frame: its bytes go out as they come
            size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size() - pos));
            data.append(buf_, pos, take);
            pos += take;
            remaining_ -= take;
            continue;
        }
        if (buf_.size() - pos < 2) break;
        auto b0 = static_cast<unsigned char>(buf_[pos]), b1 = static_cast<unsigned char>(buf_[pos + 1]);
        uint8_t op = b0 & 0x0F;
        if (b0 & 0x70) return bad("a frame with reserved bits set (no extension was agreed)");
        if (b1 & 0x80) return bad("a masked frame from the server");
        uint64_t len = b1 & 0x7F;
        size_t head = 2;
        if (len == 126) {
            if (buf_.size() - pos < 4) break;
            len = static_cast<uint64_t>(static_cast<unsigned char>(buf_[pos + 2])) << 8 |
                  static_cast<unsigned char>(buf_[pos + 3]);
            head = 4;
        } else if (len == 127) {
            if (buf_.size() - pos < 10) break;
            len = 0;
            for (int i = 0; i < 8; ++i)
                len = len << 8 | static_cast<unsigned char>(buf_[pos + 2 + i]);
            head = 10;
            if (len >> 63) return bad("a frame length over 2^63");
        }
        if (op < 8) {
            if (op != ws_continuation && op != ws_binary)
                return bad(op == ws_text ? "a text frame (MQTT goes in binary frames)"
                                         : fmt::format("a frame with unknown opcode {}", op));
            pos += head;
            remaining_ = len;
            continue;
        }
        if (len > 125 || !(b0 & 0x80))
            return bad(
                fmt::format("control frame {} of {} bytes{}", op, len, b0 & 0x80 ? "" : ", fragmented"));
        if (buf_.size() - pos - head < len) break;
        std::string_view payload(buf_.data() + pos + head, static_cast<size_t>(len));
        pos += head + static_cast<size_t>(len);
        if (op == ws_ping) {
            ws_frame(control, ws_pong, payload, ws_mask());
        } else if (op == ws_close) {
            int code = payload.size() >= 2 ? static_cast<unsigned char>(payload[0]) << 8 |
                                                 static_cast<unsigned char>(payload[1])
                                           : 1005;
            why = fmt::format("the broker closed the WebSocket (code {}{}{})", code,
                              payload.size() > 2 ? ": " : "", payload.size() > 2 ? payload.substr(2) : "");
            ev = Event::close;
            break;
        } else if (op != ws_pong) {
            return bad(fmt::format("a frame with unknown opcode {}", op));
        }
    }
    buf_.erase(0, pos);
    return ev;
}

} // namespace m2m::wire
