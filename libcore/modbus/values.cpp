#include "modbus/values.hpp"
#include "records/record.hpp"
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <simdjson.h>

namespace m2m::modbus {

namespace {

uint16_t swap(uint16_t r) {
    return static_cast<uint16_t>((r >> 8) | (r << 8));
}

/// The value's registers as one big-endian integer (up to four registers).
uint64_t packed(std::span<const uint16_t> regs, int n, Order o) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        uint16_t r = regs[static_cast<size_t>(o.word_big ? i : n - 1 - i)];
        v = (v << 16) | (o.byte_big ? r : swap(r));
    }
    return v;
}

/// The inverse of packed().
std::vector<uint16_t> unpacked(uint64_t v, int n, Order o) {
    std::vector<uint16_t> out(static_cast<size_t>(n));
    for (int i = n - 1; i >= 0; --i) {
        auto r = static_cast<uint16_t>(v & 0xFFFF);
        v >>= 16;
        out[static_cast<size_t>(o.word_big ? i : n - 1 - i)] = o.byte_big ? r : swap(r);
    }
    return out;
}

/// Digits after the point in a number's text ("230.5" -> 1, "1.5e-05" -> 6, "1e+20" -> 0).
int decimals_in(std::string_view t) {
    int exp = 0;
    if (auto e = t.find_first_of("eE"); e != std::string_view::npos) {
        std::from_chars(t.data() + e + 1 + (t[e + 1] == '+'), t.data() + t.size(), exp);
        t = t.substr(0, e);
    }
    auto dot = t.find('.');
    int m = dot == std::string_view::npos ? 0 : static_cast<int>(t.size() - dot - 1);
    return std::clamp(m - exp, 0, 17);
}

bool is_int(Type t) {
    return t == Type::int16 || t == Type::uint16 || t == Type::int32 || t == Type::uint32 ||
           t == Type::int64 || t == Type::uint64;
}

bool is_signed(Type t) {
    return t == Type::int16 || t == Type::int32 || t == Type::int64;
}

/// A raw integer of `t` from its packed bits.
int64_t signed_of(uint64_t v, Type t) {
    if (t == Type::int16) return static_cast<int16_t>(v);
    if (t == Type::int32) return static_cast<int32_t>(v);
    return static_cast<int64_t>(v);
}

/// A number with `raw_decimals` digits after the point, scaled, offset and rounded as `s` says.
std::string scaled(double raw, int raw_decimals, const ValueSpec& s) {
    double v = raw * s.scale + s.offset;
    int d =
        s.decimals >= 0 ? s.decimals : std::max(raw_decimals + decimals_of(s.scale), decimals_of(s.offset));
    return format_number(v, d);
}

} // namespace

Expected<ValueSpec> parse_type(std::string_view n) {
    ValueSpec s;
    static const std::pair<const char*, Type> names[] = {
        {"int16", Type::int16},     {"uint16", Type::uint16}, {"int32", Type::int32},
        {"uint32", Type::uint32},   {"int64", Type::int64},   {"uint64", Type::uint64},
        {"float32", Type::float32}, {"float", Type::float32}, {"float64", Type::float64},
        {"double", Type::float64},  {"bits", Type::bits},     {"bool", Type::bits},
        {"coil", Type::bits}};
    for (auto& [name, t] : names)
        if (n == name) {
            s.type = t;
            return s;
        }
    if (n.starts_with("string:")) {
        auto len = n.substr(7);
        int v = 0;
        auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), v);
        if (ec == std::errc() && p == len.data() + len.size() && v >= 1 && v <= 250) {
            s.type = Type::string;
            s.length = v;
            return s;
        }
        return fail(Exit::usage,
                    fmt::format("type '{}': a string's length is 1 to 250 bytes (string:16)", n));
    }
    return fail(Exit::usage,
                fmt::format("type '{}' is not int16, uint16, int32, uint32, int64, uint64, float32, "
                            "float64, string:N or bits",
                            n));
}

std::optional<Order> parse_order(std::string_view n) {
    if (n == "ABCD") return Order{true, true};
    if (n == "CDAB") return Order{false, true};
    if (n == "BADC") return Order{true, false};
    if (n == "DCBA") return Order{false, false};
    return std::nullopt;
}

std::string type_name(const ValueSpec& s) {
    switch (s.type) {
    case Type::int16:
        return "int16";
    case Type::uint16:
        return "uint16";
    case Type::int32:
        return "int32";
    case Type::uint32:
        return "uint32";
    case Type::int64:
        return "int64";
    case Type::uint64:
        return "uint64";
    case Type::float32:
        return "float32";
    case Type::float64:
        return "float64";
    case Type::string:
        return fmt::format("string:{}", s.length);
    case Type::bits:
        return "bits";
    }
    return "?";
}

int registers_for(const ValueSpec& s) {
    switch (s.type) {
    case Type::int32:
    case Type::uint32:
    case Type::float32:
        return 2;
    case Type::int64:
    case Type::uint64:
    case Type::float64:
        return 4;
    case Type::string:
        return (s.length + 1) / 2;
    default:
        return 1;
    }
}

std::string value_json(std::span<const uint16_t> regs, const ValueSpec& s) {
    int n = registers_for(s);
    if (regs.size() < static_cast<size_t>(n)) return "null";
    if (s.type == Type::bits) return regs[0] ? "1" : "0";
    if (s.type == Type::string) {
        std::string bytes;
        for (int i = 0; i < n; ++i) {
            uint16_t r = s.order.byte_big ? regs[static_cast<size_t>(i)] : swap(regs[static_cast<size_t>(i)]);
            bytes += static_cast<char>(r >> 8);
            bytes += static_cast<char>(r & 0xFF);
        }
        bytes.resize(static_cast<size_t>(s.length));
        if (auto nul = bytes.find('\0'); nul != std::string::npos) bytes.resize(nul); // C strings end there
        std::string out;
        append_json_string(out, bytes);
        return out;
    }
    uint64_t v = packed(regs, n, s.order);
    bool plain = s.scale == 1 && s.offset == 0 && s.decimals < 0;
    if (is_int(s.type)) {
        if (is_signed(s.type)) {
            int64_t x = signed_of(v, s.type);
            return plain ? std::to_string(x) : scaled(static_cast<double>(x), 0, s);
        }
        return plain ? std::to_string(v) : scaled(static_cast<double>(v), 0, s);
    }
    // floats: the raw value has the decimals of its shortest form (230.5f is 230.5, not 230.5000...)
    std::string raw = s.type == Type::float32
                          ? fmt::format("{}", std::bit_cast<float>(static_cast<uint32_t>(v)))
                          : fmt::format("{}", std::bit_cast<double>(v));
    double d = std::strtod(raw.c_str(), nullptr);
    if (!std::isfinite(d)) return "null";
    if (d == 0) return "0"; // not "-0"
    return plain ? raw : scaled(d, decimals_in(raw), s);
}

double value_of(std::span<const uint16_t> regs, const ValueSpec& s) {
    if (s.type == Type::string) return NAN;
    std::string j = value_json(regs, s);
    return j == "null" ? NAN : std::strtod(j.c_str(), nullptr);
}

std::string values_json(std::span<const uint16_t> regs, const ValueSpec& s) {
    size_t n = static_cast<size_t>(registers_for(s));
    std::string out = "[";
    for (size_t i = 0; i + n <= regs.size(); i += n) {
        if (out.size() > 1) out += ',';
        out += value_json(regs.subspan(i, n), s);
    }
    return out + "]";
}

Expected<std::vector<uint16_t>> registers_of(std::string_view json, const ValueSpec& s) {
    simdjson::dom::parser p;
    simdjson::padded_string padded(json);
    simdjson::dom::element e;
    if (p.parse(padded).get(e)) return fail(Exit::bad_data, fmt::format("value {} is not JSON", json));
    int n = registers_for(s);
    if (s.type == Type::string) {
        std::string_view str;
        if (e.get_string().get(str))
            return fail(Exit::bad_data, fmt::format("value {}: a {} value is a string", json, type_name(s)));
        if (str.size() > static_cast<size_t>(s.length))
            return fail(Exit::bad_data,
                        fmt::format("value {}: {} bytes, longer than {}", json, str.size(), type_name(s)));
        std::string bytes(str);
        bytes.resize(static_cast<size_t>(n) * 2, '\0');
        std::vector<uint16_t> out;
        for (int i = 0; i < n; ++i) {
            auto r =
                static_cast<uint16_t>((static_cast<unsigned char>(bytes[static_cast<size_t>(2 * i)]) << 8) |
                                      static_cast<unsigned char>(bytes[static_cast<size_t>(2 * i + 1)]));
            out.push_back(s.order.byte_big ? r : swap(r));
        }
        return out;
    }
    bool b = false;
    if (s.type == Type::bits && !e.get_bool().get(b)) return std::vector<uint16_t>{static_cast<uint16_t>(b)};
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    bool plain = s.scale == 1 && s.offset == 0;
    if (e.get_double().get(d))
        return fail(Exit::bad_data, fmt::format("value {}: a {} value is a number", json, type_name(s)));
    if (s.type == Type::bits) {
        if (d != 0 && d != 1) return fail(Exit::bad_data, fmt::format("value {}: a bit is 0 or 1", json));
        return std::vector<uint16_t>{static_cast<uint16_t>(d)};
    }
    if (s.type == Type::float32 || s.type == Type::float64) {
        double raw = (d - s.offset) / s.scale;
        uint64_t bits = s.type == Type::float32 ? std::bit_cast<uint32_t>(static_cast<float>(raw))
                                                : std::bit_cast<uint64_t>(raw);
        return unpacked(bits, n, s.order);
    }
    // integers: exact when given as an integer and not scaled, else (value - offset) / scale rounded
    uint64_t bits = 0;
    auto out_of_range = [&] {
        return fail(Exit::bad_data, fmt::format("value {} does not fit {}{}", json, type_name(s),
                                                plain ? "" : " after scale and offset"));
    };
    if (plain && !e.get_int64().get(i64)) {
        if (!is_signed(s.type) && i64 < 0) return out_of_range();
        bits = static_cast<uint64_t>(i64);
    } else if (plain && !e.get_uint64().get(u64)) {
        if (s.type != Type::uint64) return out_of_range();
        bits = u64;
    } else {
        double raw = (d - s.offset) / s.scale;
        double r = std::round(raw);
        if (std::fabs(raw - r) > 1e-6 * std::max(1.0, std::fabs(raw)))
            return fail(Exit::bad_data, fmt::format("value {} is not a whole number of {}'s units{}", json,
                                                    type_name(s), plain ? "" : " after scale and offset"));
        if (is_signed(s.type) ? std::fabs(r) >= 9.2e18 : (r < 0 || r >= 1.8e19)) return out_of_range();
        bits = r < 0 ? static_cast<uint64_t>(static_cast<int64_t>(r)) : static_cast<uint64_t>(r);
    }
    auto in = [&](int64_t lo, int64_t hi) {
        return static_cast<int64_t>(bits) >= lo && static_cast<int64_t>(bits) <= hi;
    };
    switch (s.type) {
    case Type::int16:
        if (!in(-32768, 32767)) return out_of_range();
        break;
    case Type::uint16:
        if (bits > 65535) return out_of_range();
        break;
    case Type::int32:
        if (!in(INT32_MIN, INT32_MAX)) return out_of_range();
        break;
    case Type::uint32:
        if (bits > UINT32_MAX) return out_of_range();
        break;
    default: // 64 bits: checked above
        break;
    }
    uint64_t mask = n == 4 ? ~0ull : (1ull << (16 * n)) - 1;
    return unpacked(bits & mask, n, s.order);
}

std::string format_number(double v, int decimals) {
    if (!std::isfinite(v)) return "null";
    if (decimals >= 0 && decimals <= 15) {
        double p = std::pow(10.0, decimals);
        if (std::fabs(v * p) < 9e15) v = std::round(v * p) / p;
    }
    if (v == 0) v = 0; // no "-0"
    return fmt::format("{}", v);
}

int decimals_of(double v) {
    return std::isfinite(v) ? decimals_in(fmt::format("{}", v)) : 0;
}

} // namespace m2m::modbus
