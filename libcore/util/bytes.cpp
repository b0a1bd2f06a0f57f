#include "util/bytes.hpp"
#include "util/scan.hpp"
#include <array>
#include <cstdint>
#include <cstring>
#include <simdjson.h>

namespace m2m {

namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr std::array<int8_t, 256> make_b64_table() {
    std::array<int8_t, 256> t{};
    for (auto& v : t)
        v = -1;
    for (int i = 0; i < 64; ++i)
        t[static_cast<uint8_t>(kB64[i])] = static_cast<int8_t>(i);
    return t;
}
constexpr auto kB64Table = make_b64_table();
} // namespace

std::string to_hex(std::string_view bytes) {
    std::string s;
    append_hex(s, bytes);
    return s;
}

void append_hex(std::string& out, std::string_view bytes) {
    size_t at = out.size();
    out.resize(at + bytes.size() * 2);
    for (unsigned char c : bytes) {
        out[at++] = kHex[c >> 4];
        out[at++] = kHex[c & 15];
    }
}

std::optional<std::string> decode_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    std::string out(hex.size() / 2, '\0');
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi << 4 | lo);
    }
    return out;
}

void append_base64(std::string& out, std::string_view bytes) {
    size_t i = 0;
    auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
        out += {kB64[v >> 18], kB64[v >> 12 & 63], kB64[v >> 6 & 63], kB64[v & 63]};
    }
    if (size_t rest = bytes.size() - i; rest == 1) {
        uint32_t v = b(i) << 16;
        out += {kB64[v >> 18], kB64[v >> 12 & 63], '=', '='};
    } else if (rest == 2) {
        uint32_t v = b(i) << 16 | b(i + 1) << 8;
        out += {kB64[v >> 18], kB64[v >> 12 & 63], kB64[v >> 6 & 63], '='};
    }
}

std::optional<std::string> decode_base64(std::string_view s) {
    if (s.size() % 4) return std::nullopt;
    std::string out;
    out.reserve(s.size() / 4 * 3);
    for (size_t i = 0; i < s.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s[i + k];
            if (c == '=' && i + 4 == s.size() && k >= 2) {
                v[k] = 0;
                ++pad;
            } else if (pad || (v[k] = kB64Table[static_cast<uint8_t>(c)]) < 0) {
                return std::nullopt;
            }
        }
        uint32_t w = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out += static_cast<char>(w >> 16);
        if (pad < 2) out += static_cast<char>(w >> 8 & 255);
        if (pad < 1) out += static_cast<char>(w & 255);
    }
    return out;
}

bool is_ascii(std::string_view s) {
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t v;
        std::memcpy(&v, s.data() + i, 8);
        any |= v;
    }
    for (; i < s.size(); ++i)
        any |= static_cast<unsigned char>(s[i]);
    return (any & 0x8080808080808080ULL) == 0;
}

bool is_valid_utf8(std::string_view s) {
    // short and plain ASCII (most frames, most topics): no call into simdjson's dispatch for it
    if (s.size() <= 256 && is_ascii(s)) return true;
    return simdjson::validate_utf8(s.data(), s.size());
}

bool is_printable_text(std::string_view s) {
    auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
    auto word = [](uint64_t v) { return scan::has_less(v, 0x20) | scan::has_byte(v, 0x7f); };
    for (size_t i = scan::find_if(s, 0, word, control); i < s.size();
         i = scan::find_if(s, i + 1, word, control))
        if (s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return is_valid_utf8(s);
}

} // namespace m2m
