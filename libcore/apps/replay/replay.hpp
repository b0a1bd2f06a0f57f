#pragma once
// replay: re-emit recorded records with their original timing (or a set rate), to stdout or a
// link; or serve a capture as a simulated device (--serve).
#include "cli/options.hpp"
#include "runtime/line_sink.hpp"
#include "util/error.hpp"
#include <functional>
#include <memory>
#include <vector>

namespace m2m {

class EventLoop;
struct RunStats;

struct ReplayArgs {
    std::vector<std::string> args; // FILE... [TARGET]
    double speed = 1;
    std::string rate;       // N or N/s: ignore recorded timing
    std::string loop = "1"; // N or inf
    std::string from, to;   // window: offsets from the recording's start (DUR) or RFC 3339 times
    bool rebase = false;
    std::vector<std::string> set; // --set KEY=VALUE: fields added to every record replayed
    std::string jitter;           // DUR: each record moves by up to ± this much
    bool raw = false;
    size_t max_line = 1 << 20; // longest recording line; longer ones are skipped (fatal with --strict)
    int ts_column = 0;         // --raw: 1-based comma-separated column holding the time
    bool serve = false;
    std::string serve_map; // --serve-map MAP: a simulated Modbus device from a register map
    cli::FramingArgs framing;
    cli::OutputArgs view; // --format, --ts, --color: how records replayed to stdout are shown
    cli::CommonArgs common;
    BrokerSinkFactory broker; // empty: a broker TARGET is refused
};

Expected<Exit> run_replay(const ReplayArgs& a);
/// replay --serve-map MAP LINK (serve_map.cpp).
Expected<Exit> serve_map(const ReplayArgs& a, const std::string& target);

} // namespace m2m
