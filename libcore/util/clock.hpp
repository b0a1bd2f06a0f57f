#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace m2m {

/// Wall-clock time in microseconds since the Unix epoch (record timestamps).
int64_t wall_us();
/// Monotonic time in microseconds (timers, deadlines, idle framing).
int64_t mono_us();
/// RFC 3339 UTC with microseconds: 2026-11-21T18:00:00.123456Z
std::string format_rfc3339(int64_t epoch_us);
void append_rfc3339(std::string& out, int64_t epoch_us);
/// Parses RFC 3339 (fraction optional, Z or +HH:MM / -HH:MM) to epoch microseconds.
std::optional<int64_t> parse_rfc3339(std::string_view s);

} // namespace m2m
