#pragma once
// loadgen's templates: --topic and --payload with {dev} {seq} {ts} {rand:N}, rendered per message
// and read back by the subscriber to tell which device sent which message.
#include "util/error.hpp"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::loadgen {

struct Part {
    std::string text;
    enum Kind { lit, dev, seq, ts, rand } kind = lit;
    int n = 0;
};

Expected<std::vector<Part>> parse_template(const std::string& t, const char* what);

/// Reads dev and seq back out of a message made from the template.
bool parse_back(const std::vector<Part>& parts, std::string_view s, int64_t& dev, int64_t& seq);

/// Whether the template has both {dev} and {seq} (a subscriber can then tell messages apart).
bool has_fields(const std::vector<Part>& parts);

} // namespace m2m::loadgen
