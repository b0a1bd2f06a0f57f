#include "framing/codecs.hpp"
#include <fmt/format.h>

namespace m2m {

namespace {
FramingFactory no_arg(std::string name, Framing (*make)(const FramingOptions&)) {
    return [name, make](std::string_view arg, const FramingOptions& o) -> Expected<Framing> {
        if (!arg.empty())
            return fail(Exit::usage,
                        fmt::format("framing '{}' takes no argument (got '{}:{}')", name, name, arg));
        return make(o);
    };
}
FramingFactory delimited(std::string name, std::string delim) {
    return [name, delim](std::string_view arg, const FramingOptions& o) -> Expected<Framing> {
        if (name == "line" && arg == "crlf") return line_framing("crlf", "\r\n", o);
        if (name == "line" && arg == "cr") return line_framing("cr", "\r", o);
        if (!arg.empty())
            return fail(Exit::usage, fmt::format("bad framing '{}:{}'; use line, crlf or cr", name, arg));
        return line_framing(name, delim, o);
    };
}
} // namespace

void register_builtin_framings() {
    register_framing("line", "text lines ending in LF (line:crlf, line:cr as crlf, cr)",
                     delimited("line", "\n"));
    register_framing("crlf", "text lines ending in CR LF", delimited("crlf", "\r\n"));
    register_framing("cr", "text lines ending in CR", delimited("cr", "\r"));
    register_framing("slip", "SLIP, RFC 1055 (0xC0 delimited, byte-stuffed)", no_arg("slip", slip_framing));
    register_framing("cobs", "COBS, zero-delimited", no_arg("cobs", cobs_framing));
    register_framing("len", "length prefix: len:u8, len:u16be, len:u16le, len:u32be, len:u32le",
                     length_framing);
    register_framing("fixed", "fixed:N, frames of exactly N bytes", fixed_framing);
    register_framing("idle", "idle:MS, a frame ends after MS milliseconds of silence", idle_framing);
    register_framing("raw", "bytes as they arrive, one frame per read", no_arg("raw", raw_framing));
    register_framing("modbus-rtu",
                     "Modbus RTU: unit, function, data, CRC-16 (modbus-rtu:MS sets the silence, default 4)",
                     modbus_rtu_framing);
    register_framing("modbus-tcp", "Modbus TCP: MBAP header, transaction ids",
                     no_arg("modbus-tcp", modbus_tcp_framing));
    register_framing("nmea", "NMEA 0183 sentences, $...*hh, checksum verified", no_arg("nmea", nmea_framing));
    register_framing(
        "at",
        "AT commands (modems): sent ending in CR; reply lines marked echo, info, final (OK, ERROR, "
        "+CME ERROR...) or urc (RING, +CREG...)",
        no_arg("at", at_framing));
}

} // namespace m2m
