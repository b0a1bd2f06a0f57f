#pragma once
// Modbus above the framing (docs/design.md, "Framings"): the application data unit without its
// transport wrapping -- unit id, function code, data -- decoded into the `modbus` view of a record
// and encoded from one. The same bytes are the payload of a `modbus-rtu` frame (CRC stripped) and
// of a `modbus-tcp` frame (MBAP header stripped), so captures move between the two. Pure: no I/O.
#include "util/error.hpp"
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::modbus {

/// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first.
uint16_t crc16(std::string_view bytes);

/// Which side of the conversation a frame comes from, when the bytes alone are ambiguous.
enum class Role { any, request, response };

/// What a decoder remembers of the last request, to read the response that follows (a coil
/// response carries whole bytes; the request says how many bits are meant).
struct Context {
    int unit = -1, fc = -1, addr = 0, count = 0;
};

/// The ADU lengths (unit + PDU, without CRC) that the bytes so far could have as a request and as
/// a response; 0 = not that kind, -1 = more bytes needed to tell. `adu` starts at the unit id.
struct Lengths {
    int request = 0, response = 0;
};
Lengths adu_lengths(std::string_view adu);

/// Is this ADU a request? Decides by its length where only one kind fits, else by the role, else
/// by the context (a frame after a request for the same unit and function is its response).
bool is_request(std::string_view adu, Role role, const Context& ctx);

/// The `modbus` view as a JSON object: {"unit":1,"fc":3,"kind":"response","regs":[…]}.
/// Updates `ctx` with a request. Bytes that do not fit their function give "error".
std::string describe(std::string_view adu, bool request, Context& ctx);

/// Builds the ADU (unit + PDU) of a request from a `modbus` object:
/// {"unit":1,"fc":3,"addr":0,"count":2}, {"fc":6,"addr":5,"value":7}, {"fc":16,"addr":0,"regs":[1,2]},
/// {"fc":5,"addr":3,"value":true}, {"fc":15,"addr":0,"bits":[1,0,1]},
/// {"fc":23,"read_addr":0,"read_count":2,"addr":10,"regs":[…]}; also a response with "kind":"response".
Expected<std::string> encode(std::string_view json);

const char* exception_name(int code);

/// Values over registers (the register map of `bridge`).
enum class Type { int16, uint16, int32, uint32, float32, bits };
/// Word order: big (first register is the high word, Modbus's usual) or little; byte order inside
/// each register: big (the standard) or swapped.
struct Order {
    bool word_big = true;
    bool byte_big = true;
};
std::optional<Type> parse_type(std::string_view name);
int registers_for(Type t);
/// The value of `t` from registers (`regs.size() >= registers_for(t)`).
double value_of(std::span<const uint16_t> regs, Type t, Order o);

} // namespace m2m::modbus
