#pragma once
// Completes Paho's TCP connect on the calling thread (see connect_hook.cpp for why).
#include <string>

namespace m2m::paho_hook {

/// While an Arm is alive on this thread, a non-blocking connect(2) that Paho starts is waited
/// for here, up to `timeout_ms`, so Paho sees a connected socket at once.
class Arm {
  public:
    /// With complete = false the connect only passes through and its socket is noted.
    explicit Arm(int timeout_ms, bool complete = true);
    ~Arm();
    Arm(const Arm&) = delete;
    Arm& operator=(const Arm&) = delete;
    /// The socket Paho connected (the one this process polls for the broker), or -1.
    int fd() const;
    /// errno of the last failed connect (ECONNREFUSED, ETIMEDOUT, ...), or 0.
    int error() const;
};

} // namespace m2m::paho_hook
