#include "loop/event_loop.hpp"
#include "util/clock.hpp"
#include <sys/signalfd.h>
#include <unistd.h>

namespace m2m {

EventLoop::EventLoop() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old_mask_);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe_);
    signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    on_signal_ = [this](int) { stop(Exit::interrupted); };
    watch(signal_fd_, POLLIN, [this](short) {
        signalfd_siginfo info{};
        while (::read(signal_fd_, &info, sizeof info) == sizeof info)
            on_signal_(static_cast<int>(info.ssi_signo));
    });
}

EventLoop::~EventLoop() {
    if (signal_fd_ >= 0) {
        // signals taken while the loop ran are consumed here, not delivered once unblocked
        signalfd_siginfo info{};
        while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
        }
        ::close(signal_fd_);
    }
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
}

int EventLoop::watch(int fd, short events, FdCallback cb) {
    int id = next_id_++;
    size_t slot = fds_.size();
    fds_.push_back(pollfd{events && fd >= 0 ? fd : -1, events, 0});
    slot_ids_.push_back(id);
    watches_.emplace(id, Watch{fd, events, slot, std::move(cb)});
    return id;
}

void EventLoop::set_events(int id, short events) {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    auto& w = it->second;
    w.events = events;
    fds_[w.slot] = pollfd{events && w.fd >= 0 ? w.fd : -1, events, 0};
}

void EventLoop::unwatch(int id) {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    size_t slot = it->second.slot, last = fds_.size() - 1;
    if (slot != last) { // the last entry takes the freed place
        fds_[slot] = fds_[last];
        slot_ids_[slot] = slot_ids_[last];
        watches_.at(slot_ids_[slot]).slot = slot;
    }
    fds_.pop_back();
    slot_ids_.pop_back();
    watches_.erase(it);
}

int EventLoop::at(int64_t at_us, TimerCallback cb) {
    int id = next_id_++;
    timers_.emplace(std::make_pair(at_us, id), std::move(cb));
    timer_due_.emplace(id, at_us);
    return id;
}

void EventLoop::cancel(int timer_id) {
    auto it = timer_due_.find(timer_id);
    if (it == timer_due_.end()) return;
    timers_.erase({it->second, timer_id});
    timer_due_.erase(it);
}

void EventLoop::stop(Exit code) {
    if (!exit_) exit_ = code;
}

void EventLoop::fail(Exit code, std::string why) {
    if (exit_) return;
    exit_ = code;
    why_ = std::move(why);
}

Expected<Exit> EventLoop::result() const {
    if (!why_.empty()) return m2m::fail(*exit_, why_);
    return exit_.value_or(Exit::ok);
}

void EventLoop::run_due_timers() {
    int64_t now = mono_us();
    // the timers due now that existed before this pass; those made while they run (a deferred
    // chain's next link) wait for the next pass, after a poll
    due_.clear();
    for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= now; ++it)
        if (it->first.second < pass_start_id_) due_.push_back(it->first);
    for (auto& key : due_) {
        if (exit_) return;
        auto it = timers_.find(key);
        if (it == timers_.end()) continue; // cancelled by an earlier one
        auto cb = std::move(it->second);
        timers_.erase(it);
        timer_due_.erase(key.second);
        cb();
    }
}

Exit EventLoop::run() {
    while (!exit_) {
        ++passes_;
        pass_start_id_ = next_id_;
        run_due_timers();
        if (exit_) break;
        int timeout_ms = -1;
        if (!timers_.empty()) {
            int64_t wait = timers_.begin()->first.first - mono_us();
            timeout_ms = wait <= 0 ? 0 : static_cast<int>((wait + 999) / 1000);
        }
        int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
        if (n <= 0) continue; // nothing ready, or EINTR
        ready_.clear();
        for (size_t i = 0; i < fds_.size(); ++i)
            if (fds_[i].revents) ready_.emplace_back(slot_ids_[i], fds_[i].revents);
        for (auto [id, revents] : ready_) {
            if (exit_) break;
            auto it = watches_.find(id); // a callback may have unwatched another
            if (it == watches_.end() || it->second.events == 0) continue;
            auto cb = it->second.cb; // the callback may unwatch itself
            cb(revents);
        }
    }
    return *exit_;
}

} // namespace m2m
