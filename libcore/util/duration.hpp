#pragma once
#include "util/error.hpp"
#include <chrono>
#include <string_view>

namespace m2m {

using Micros = std::chrono::microseconds;

/// Parses "250ms", "5s", "2m", "1h", "100us", or a bare number of seconds ("1.5").
Expected<Micros> parse_duration(std::string_view text);

} // namespace m2m
