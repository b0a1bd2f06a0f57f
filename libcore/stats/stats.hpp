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
    uint64_t wrong_replies = 0; // --reply: replies that were wrong (exception, AT error, expect not met)
    uint64_t unsolicited = 0;   // --reply: frames that came outside any request's window
    bool mqtt = false;          // the MQTT counters below are reported
    uint64_t published = 0;     // messages sent to the broker (first sends)
    uint64_t acked = 0;         // QoS 1/2 messages the broker acknowledged
    uint64_t failed = 0;        // messages the broker refused (MQTT 5 reason code) or that could not be sent
    uint64_t resent = 0;        // QoS 1/2 messages sent again after a reconnect
    uint64_t received = 0;      // messages that arrived from the broker
    uint64_t duplicates = 0;    // arrived with the DUP flag (a redelivery)
    uint64_t reconnects = 0;    // times the link came back after being lost
    std::map<std::string, uint64_t> drops;         // cause -> occurrences
    std::map<std::string, uint64_t> dropped_bytes; // cause -> bytes

    void add_decoder(const DecoderStats& d);
    std::string to_json() const;
};

} // namespace m2m
