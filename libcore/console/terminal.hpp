#pragma once
// The user's terminal in raw mode for the console, given back as it was on every way out: a
// normal return, exit(), SIGTERM/SIGINT/SIGHUP (through the event loop) and the crash signals.
#include "util/error.hpp"
#include <string>

namespace m2m::console {

class RawTerminal {
  public:
    RawTerminal() = default;
    ~RawTerminal() { restore(); }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    /// Raw input (no echo, no line editing, no signals from keys), output still turning '\n'
    /// into CR LF. Exit::usage when `fd` is not a terminal.
    Status enter(int fd);
    void restore();

  private:
    int fd_ = -1;
};

} // namespace m2m::console
