#pragma once
// Modbus above the framing (docs/design.md, "Framings"): the application data unit without its
// transport wrapping -- unit id, function code, data -- decoded into the `modbus` view of a record
// and encoded from one. The same bytes are the payload of a `modbus-rtu` frame (CRC stripped) and
// of a `modbus-tcp` frame (MBAP header stripped), so captures move between the two. Pure: no I/O.
#include "modbus/values.hpp"
#include "util/error.hpp"
#include <cstdint>
#include <optional>
#include <simdjson.h>
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

/// The typed value a `modbus` object asks for: "type" (int16 ... float64, string:N, bits), "order"
/// (ABCD, CDAB, BADC, DCBA), "scale", "offset", "decimals"; nullopt when it has no "type". A bad
/// one is an error naming the key.
Expected<std::optional<ValueSpec>> spec_of(simdjson::dom::object o);
Expected<std::optional<ValueSpec>> spec_of(std::string_view json);

/// Builds the ADU (unit + PDU) of a request from a `modbus` object:
/// {"unit":1,"fc":3,"addr":0,"count":2}, {"fc":6,"addr":5,"value":7}, {"fc":16,"addr":0,"regs":[1,2]},
/// {"fc":5,"addr":3,"value":true}, {"fc":15,"addr":0,"bits":[1,0,1]},
/// {"fc":23,"read_addr":0,"read_count":2,"addr":10,"regs":[…]}; also a response with "kind":"response".
/// With a "type" (spec_of): fc 3/4 read "count" values of that type (default 1); fc 16 writes
/// "values": [...] (or one "value"), fc 6 one 16-bit "value", each encoded as the type says.
Expected<std::string> encode(std::string_view json);

const char* exception_name(int code);

/// Modbus TCP's MBAP header: transaction id, protocol (0), length of the ADU that follows.
struct Mbap {
    uint16_t tid = 0, protocol = 0, length = 0;
    /// Protocol 0 and a length a Modbus ADU can have (unit id, function code, up to 252 bytes).
    bool plausible() const { return protocol == 0 && length >= 2 && length <= 254; }
};
constexpr size_t mbap_size = 6;
/// The header at the start of `bytes`, which holds at least mbap_size bytes.
Mbap read_mbap(std::string_view bytes);
/// Appends the MBAP header for `adu`, then `adu`: a Modbus TCP frame.
void append_mbap(std::string& out, uint16_t tid, std::string_view adu);

/// The ADU of a read request: fc 1-2 for `count` bits, fc 3-4 for `count` registers.
std::string read_request(int unit, int fc, int addr, int count);

/// What the reply to read_request() holds: registers (fc 3, 4) or bits (fc 1, 2).
struct ReadReply {
    std::vector<uint16_t> regs;
    std::vector<uint8_t> bits;
};
/// Reads the reply `adu` to a read of `count` from `unit` with `fc`. A reply from another unit or
/// for another function, an exception (its code and name), or a reply of the wrong size is an error
/// whose message says which.
Expected<ReadReply> read_reply(std::string_view adu, int unit, int fc, int count);

} // namespace m2m::modbus
