#pragma once
// One event loop per process: poll(2) over file descriptors, monotonic timers, and signals
// delivered through a signalfd in the same poll set (never work inside a signal handler).
#include "util/error.hpp"
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace m2m {

class EventLoop {
  public:
    using FdCallback = std::function<void(short revents)>;
    using TimerCallback = std::function<void()>;

    /// Blocks SIGINT, SIGTERM, SIGHUP (taken through a signalfd) and ignores SIGPIPE.
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    int watch(int fd, short events, FdCallback cb);
    void set_events(int id, short events);
    void unwatch(int id);
    /// Calls `cb` once at monotonic time `at_us` (mono_us()).
    int at(int64_t at_us, TimerCallback cb);
    void cancel(int timer_id);
    /// What a SIGINT/SIGTERM does; by default stop(Exit::interrupted).
    void on_signal(std::function<void(int signo)> cb) { on_signal_ = std::move(cb); }

    /// Runs until stop(); returns the code given to stop().
    Exit run();
    void stop(Exit code);
    bool stopped() const { return exit_.has_value(); }

  private:
    struct Watch {
        int fd;
        short events;
        FdCallback cb;
    };
    std::map<int, Watch> watches_;
    std::multimap<int64_t, std::pair<int, TimerCallback>> timers_;
    int next_id_ = 1;
    int signal_fd_ = -1;
    std::optional<Exit> exit_;
    std::function<void(int)> on_signal_;
};

} // namespace m2m
