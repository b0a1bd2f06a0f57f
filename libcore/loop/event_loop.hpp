#pragma once
// One event loop per process: poll(2) over file descriptors, monotonic timers, and signals
// delivered through a signalfd in the same poll set (never work inside a signal handler).
//
// Each pass runs the timers that were due when it began, then polls (with a zero timeout when
// more work is due) and serves the ready descriptors. A timer scheduled during a pass -- at(0),
// "later" -- waits for the next pass, so a chain of deferred callbacks yields to descriptors and
// signals between links. The poll set is kept as watches change, not rebuilt each pass; cancel()
// and unwatch() are O(log n) and O(1).
#include "util/error.hpp"
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <poll.h>
#include <string>
#include <unordered_map>
#include <vector>

namespace m2m {

class EventLoop {
  public:
    using FdCallback = std::function<void(short revents)>;
    using TimerCallback = std::function<void()>;

    /// Blocks SIGINT, SIGTERM, SIGHUP (taken through a signalfd) and ignores SIGPIPE; the
    /// destructor gives back the signal mask and SIGPIPE's disposition it found.
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    int watch(int fd, short events, FdCallback cb);
    /// Which events to wait for; 0 leaves the descriptor out of poll until set again.
    void set_events(int id, short events);
    void unwatch(int id);
    /// Calls `cb` once at monotonic time `at_us` (mono_us()); 0 = on the next pass.
    int at(int64_t at_us, TimerCallback cb);
    void cancel(int timer_id);
    /// What a SIGINT/SIGTERM does; by default stop(Exit::interrupted).
    void on_signal(std::function<void(int signo)> cb) { on_signal_ = std::move(cb); }

    /// Runs until stop(); returns the code given to stop().
    Exit run();
    void stop(Exit code);
    /// Ends the run on an error, saying why. The first stop() or fail() decides how the run ended:
    /// run() returns its code, result() its message too.
    void fail(Exit code, std::string why);
    bool stopped() const { return exit_.has_value(); }
    /// How the run ended, as a tool's run returns it: the code, or the error a fail() gave. The
    /// one place a stop's reason becomes the tool's error (the runner maps it to the exit status).
    Expected<Exit> result() const;
    /// How many passes run() has made (for tests).
    uint64_t passes() const { return passes_; }

  private:
    struct Watch {
        int fd;
        short events;
        size_t slot; // index in fds_ / slot_ids_
        FdCallback cb;
    };
    void run_due_timers();
    std::unordered_map<int, Watch> watches_;
    std::vector<pollfd> fds_;   // the poll set, one entry per watch (fd -1 while events are 0)
    std::vector<int> slot_ids_; // the watch of each entry
    std::map<std::pair<int64_t, int>, TimerCallback> timers_; // (due, id): in time order, then by age
    std::unordered_map<int, int64_t> timer_due_;
    std::vector<std::pair<int, short>> ready_;
    std::vector<std::pair<int64_t, int>> due_;
    int pass_start_id_ = 0;
    int next_id_ = 1;
    int signal_fd_ = -1;
    sigset_t old_mask_{};
    struct sigaction old_pipe_ {};
    std::optional<Exit> exit_;
    std::string why_; // fail()'s message
    std::function<void(int)> on_signal_;
    uint64_t passes_ = 0;
};

} // namespace m2m
