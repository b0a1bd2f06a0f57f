#pragma once
// A consumer of input lines inside the event loop, with backpressure: replay hands its records to
// one when its TARGET is a broker (apps/pub makes it), so replay needs no MQTT of its own.
#include "util/error.hpp"
#include <functional>
#include <memory>
#include <string>

namespace m2m {

class EventLoop;
struct RunStats;

/// Where replay hands records when its TARGET is a broker: iot-pub's publishing in this process
/// (apps/pub), with its topic and payload rules, window, reconnects and bounded buffer. When the
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

} // namespace m2m
