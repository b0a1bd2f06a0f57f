#pragma once
// replay's input: the recordings, read and checked line by line (recording.cpp), shared by the
// timed replay (replay.cpp) and the simulated device that serves a capture (serve_capture.cpp).
#include "apps/replay/replay.hpp"
#include "records/record.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace m2m::replay {

/// One recorded line.
struct Item {
    int64_t ts = 0;      // recorded time, epoch µs (0 when unknown)
    std::string line;    // the record (or raw line) as it was
    std::string payload; // what a link target gets
    std::string dir;     // tx / rx (serve)
    std::string match;   // serve: a hex pattern, ".." or "??" for any byte
    Record rec;
};

/// A TARGET argument rather than a recording: "-", a URI, serial:, pty:, file:.
bool is_target(const std::string& s);

/// Every record of the recordings. A bad or overlong line is named (file:line), counted in
/// `bad` and skipped (a recording whose last line was cut by a killed recorder still replays);
/// --strict makes the first one fatal (exit 3).
Expected<std::vector<Item>> load(const ReplayArgs& a, const std::vector<std::string>& files, uint64_t& bad);

/// replay --serve CAPTURE LINK (serve_capture.cpp).
Expected<Exit> serve_capture(const ReplayArgs& a, std::vector<Item> items, const std::string& target,
                             uint64_t bad);

} // namespace m2m::replay
