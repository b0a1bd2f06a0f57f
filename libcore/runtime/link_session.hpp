#pragma once
// A link inside the event loop: opened at start (absent = exit 4), read when readable, and
// reopened with backoff when the device or peer goes away, unless reconnecting is off.
#include "links/link.hpp"
#include "loop/event_loop.hpp"
#include "stats/stats.hpp"
#include <functional>

namespace m2m {

class LinkSession {
  public:
    LinkSession(EventLoop& loop, std::unique_ptr<Link> link, bool reconnect, RunStats& stats,
                bool read = true);
    ~LinkSession();

    std::function<void(std::string_view bytes)> on_data;
    std::function<void()> on_eof;      // a file or stdin ended
    std::function<void()> on_writable; // after want_write(true)
    std::function<void()> on_lost;     // before a reconnect attempt starts
    std::function<void()> on_up;       // opened again after a loss

    /// Opens the link; an absent device is Exit::unavailable.
    Status start();
    bool up() const { return up_; }
    void want_write(bool on);
    /// Writes what the link takes now; 0 while it is down or would block.
    size_t write(std::string_view bytes);
    Link& link() { return *link_; }
    /// Why the run failed, when the loop was stopped with Exit::runtime.
    /// Calls `then` once the other end has taken everything written (pending_out() read empty
    /// quiet_readings() times in a row, 10 ms apart) and drain() returned: a pty or socket
    /// closed earlier would lose the bytes its reader had not read yet.
    void when_taken(std::function<void()> then);
    /// Marks the link lost: reconnects, or stops the loop with Exit::runtime.
    void lost(const std::string& why);

  private:
    void attach();
    short events() const;
    void readable();
    void retry();

    EventLoop& loop_;
    std::unique_ptr<Link> link_;
    bool reconnect_;
    bool read_;
    RunStats& stats_;
    int watch_ = -1;
    bool up_ = false, want_write_ = false;
    int64_t backoff_us_ = 50000;
    std::string buf_;
    int quiet_ = 0, taken_timer_ = -1;
};

} // namespace m2m
