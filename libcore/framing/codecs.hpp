#pragma once
// Constructors of the built-in framings; framing.cpp's registry is the public way in.
#include "framing/framing.hpp"

namespace m2m {

Framing line_framing(std::string name, std::string delim, const FramingOptions& opts);
Framing slip_framing(const FramingOptions& opts);
Framing cobs_framing(const FramingOptions& opts);
Expected<Framing> length_framing(std::string_view width, const FramingOptions& opts);
Expected<Framing> fixed_framing(std::string_view size, const FramingOptions& opts);
Expected<Framing> idle_framing(std::string_view millis, const FramingOptions& opts);
Framing raw_framing(const FramingOptions& opts);
Expected<Framing> modbus_rtu_framing(std::string_view gap_ms, const FramingOptions& opts);
Framing modbus_tcp_framing(const FramingOptions& opts);
Framing nmea_framing(const FramingOptions& opts);
Framing at_framing(const FramingOptions& opts);

} // namespace m2m
