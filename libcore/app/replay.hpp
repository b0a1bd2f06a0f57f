#pragma once
// replay: re-emit recorded records with their original timing (or a set rate), to stdout or a
// link; or serve a capture as a simulated device (--serve).
#include "cli/options.hpp"
#include "util/error.hpp"
#include <functional>
#include <memory>
#include <vector>

namespace m2m {

class EventLoop;
struct RunStats;

/// Where replay hands records when its TARGET is a broker: iot-pub's publishing in this process
/// (mqtt/pub), with its topic and payload rules, window, reconnects and bounded buffer. When the
/// input has ended and every message is acknowledged, the sink stops the loop itself.
class LineSink {
  public:
    virtual ~LineSink() = default;
    /// Connects; an error names what failed (exit 4 when the broker cannot be reached).
    virtual Status start() = 0;
    /// Room for one more line now (else wait for on_room).
    virtual bool room() const = 0;
    virtual void put(std::string line) = 0;
    /// No more lines.
    virtual void end() = 0;
    /// Why the loop stopped with an error, in words.
    virtual std::string failure() const = 0;
    std::function<void()> on_room;
};

/// Makes the broker sink for TARGET (set by the replay tool, which links the MQTT side).
using BrokerSinkFactory =
    std::function<Expected<std::unique_ptr<LineSink>>(const std::string& target, EventLoop&, RunStats&)>;

struct ReplayArgs {
    std::vector<std::string> args; // FILE... [TARGET]
    double speed = 1;
    std::string rate;       // N or N/s: ignore recorded timing
    std::string loop = "1"; // N or inf
    std::string from, to;   // window: offsets from the recording's start (DUR) or RFC 3339 times
    bool rebase = false;
    std::string jitter; // DUR: each record moves by up to ± this much
    bool raw = false;
    int ts_column = 0; // --raw: 1-based comma-separated column holding the time
    bool serve = false;
    cli::FramingArgs framing;
    cli::CommonArgs common;
    BrokerSinkFactory broker; // empty: a broker TARGET is refused
};

Expected<Exit> run_replay(const ReplayArgs& a);

} // namespace m2m
