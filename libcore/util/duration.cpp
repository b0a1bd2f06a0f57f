#include "util/duration.hpp"
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace m2m {

Expected<Micros> parse_duration(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || text.empty() || value < 0 || !std::isfinite(value))
        return fail(Exit::usage, fmt::format("bad duration '{}': expected a number with a unit, "
                                             "as 250ms, 5s or 2m",
                                             text));
    std::string_view unit(end, text.data() + text.size() - end);
    double scale;
    if (unit.empty() || unit == "s")
        scale = 1e6;
    else if (unit == "ms")
        scale = 1e3;
    else if (unit == "us")
        scale = 1;
    else if (unit == "m" || unit == "min")
        scale = 60e6;
    else if (unit == "h")
        scale = 3600e6;
    else
        return fail(Exit::usage,
                    fmt::format("bad duration '{}': unknown unit '{}' (use us, ms, s, m or h)", text, unit));
    double us = value * scale;
    if (!(us < 9.2e18)) // what 64-bit microseconds hold: about 292,000 years
        return fail(Exit::usage, fmt::format("bad duration '{}': too long", text));
    return Micros(static_cast<long long>(std::llround(us)));
}

} // namespace m2m
