#pragma once
#include "cli/options.hpp"
#include "util/error.hpp"
#include <string_view>
#include <vector>

namespace m2m {

struct SendArgs {
    cli::LinkArgs link;
    bool raw = false;
    size_t max_line = 1 << 20;
    std::string interval;
    bool reply = false;
    std::string reply_timeout = "1s";
    std::string reply_gap; // a reply ends after this much silence (empty: at its first frame)
    std::string junit;     // --junit FILE: a JUnit XML report, one testcase per request
    std::string scan;      // --scan UNITS: which Modbus units answer (1-247, 1,5,9-12)
    std::string brk;       // --break DUR: hold the line in break before the first frame
    cli::FramingArgs framing;
    cli::OutputArgs output;
    cli::LimitArgs limits; // count: frames to send
    cli::CommonArgs common;
};

/// m2m-send: read records (or bare lines) on stdin, frame them, write them to a link.
Expected<Exit> run_send(const SendArgs& args);
/// m2m-send --scan: one read per unit id; the units that answer, as records or a table.
Expected<Exit> run_scan(const SendArgs& args);
Expected<std::vector<int>> parse_unit_range(std::string_view spec);

} // namespace m2m
