#pragma once
// The counters every tool reports with --stats: one JSON object on stderr at exit. Each field
// says what it counts; drops are by cause.
#include "framing/framing.hpp"
#include <cstdint>
#include <map>
#include <string>

namespace m2m {

struct RunStats {
    uint64_t frames_in = 0;   // frames decoded from the link
    uint64_t bytes_in = 0;    // bytes read from the link
    uint64_t frames_out = 0;  // frames written to the link completely
    uint64_t bytes_out = 0;   // bytes written to the link
    uint64_t records_in = 0;  // input lines parsed as records
    uint64_t records_out = 0; // records printed
    uint64_t bad_records = 0; // input lines rejected (malformed, unencodable)
    uint64_t bad_frames = 0;  // frames kept but marked with err
    uint64_t replies = 0;     // --reply: replies received
    uint64_t reply_timeouts = 0;
    uint64_t reconnects = 0;                       // times the link came back after being lost
    std::map<std::string, uint64_t> drops;         // cause -> occurrences
    std::map<std::string, uint64_t> dropped_bytes; // cause -> bytes

    void add_decoder(const DecoderStats& d);
    std::string to_json() const;
};

} // namespace m2m
