#pragma once
// Typed values over Modbus registers (m2mkit(7), "Modbus values"): the register map's values and
// m2m-send's typed requests. A value has a type (16, 32 and 64-bit integers, IEEE floats, a string
// of N bytes, a bit), an order (ABCD, CDAB, BADC, DCBA: the register order, then the byte order in
// each register, as Telegraf names them), and a scale and offset. Numbers are printed as people
// read them: rounded to the decimals the raw value, the scale and the offset carry (exact decimal
// arithmetic would give no more), in shortest form -- 123.478, not 123.47800000000001. Pure.
#include "util/error.hpp"
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::modbus {

enum class Type { int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bits };

/// Register order (big: the first register holds the most significant word, Modbus's usual) and
/// byte order inside each register (big: the standard).
struct Order {
    bool word_big = true;
    bool byte_big = true;
};

struct ValueSpec {
    Type type = Type::uint16;
    int length = 0; // string: bytes
    Order order;
    double scale = 1, offset = 0;
    int decimals = -1; // -1: as the raw value, scale and offset imply
};

/// "int16" ... "float64", "string:N" (N bytes), "bits"; also "float" and "bool". A bad name gives
/// a message listing the names.
Expected<ValueSpec> parse_type(std::string_view name);
/// "ABCD", "CDAB", "BADC", "DCBA" (for 16-bit values only the byte order counts).
std::optional<Order> parse_order(std::string_view name);
std::string type_name(const ValueSpec& s);
/// Registers one value takes (a bit: 1).
int registers_for(const ValueSpec& s);

/// One value from `regs` (at least registers_for(s) of them) as JSON text: a number, scaled and
/// rounded, or a string. A float that is not finite gives null.
std::string value_json(std::span<const uint16_t> regs, const ValueSpec& s);
/// The same as a double (NaN for a string).
double value_of(std::span<const uint16_t> regs, const ValueSpec& s);
/// The values of `regs` in turn, as a JSON array: [230.5,21.7]. Registers left over are ignored.
std::string values_json(std::span<const uint16_t> regs, const ValueSpec& s);

/// The registers that hold `json` (a number, or a string for string:N) as `s` says: the scale and
/// offset undone, rounded to the type. Out of range, or not a whole number for an integer type:
/// an error naming the value.
Expected<std::vector<uint16_t>> registers_of(std::string_view json, const ValueSpec& s);

/// `v` rounded to `decimals` and printed in shortest form ("230.5", "-2", "1e+20").
std::string format_number(double v, int decimals);
/// Digits after the decimal point in the shortest form of `v` (0.1 -> 1, 2 -> 0, 1e-5 -> 5).
int decimals_of(double v);

} // namespace m2m::modbus
