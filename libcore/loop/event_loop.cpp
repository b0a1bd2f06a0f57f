#include "loop/event_loop.hpp"
#include "util/clock.hpp"
#include <csignal>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace m2m {

EventLoop::EventLoop() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    on_signal_ = [this](int) { stop(Exit::interrupted); };
    watch(signal_fd_, POLLIN, [this](short) {
        signalfd_siginfo info{};
        while (::read(signal_fd_, &info, sizeof info) == sizeof info)
            on_signal_(static_cast<int>(info.ssi_signo));
    });
}

EventLoop::~EventLoop() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

int EventLoop::watch(int fd, short events, FdCallback cb) {
    int id = next_id_++;
    watches_[id] = Watch{fd, events, std::move(cb)};
    return id;
}

void EventLoop::set_events(int id, short events) {
    if (auto it = watches_.find(id); it != watches_.end()) it->second.events = events;
}

void EventLoop::unwatch(int id) {
    watches_.erase(id);
}

int EventLoop::at(int64_t at_us, TimerCallback cb) {
    int id = next_id_++;
    timers_.emplace(at_us, std::make_pair(id, std::move(cb)));
    return id;
}

void EventLoop::cancel(int timer_id) {
    for (auto it = timers_.begin(); it != timers_.end(); ++it)
        if (it->second.first == timer_id) {
            timers_.erase(it);
            return;
        }
}

void EventLoop::stop(Exit code) {
    if (!exit_) exit_ = code;
}

Exit EventLoop::run() {
    std::vector<pollfd> fds;
    std::vector<int> ids;
    while (!exit_) {
        int64_t now = mono_us();
        while (!timers_.empty() && timers_.begin()->first <= now && !exit_) {
            auto cb = std::move(timers_.begin()->second.second);
            timers_.erase(timers_.begin());
            cb();
        }
        if (exit_) break;
        fds.clear();
        ids.clear();
        for (auto& [id, w] : watches_)
            if (w.events && w.fd >= 0) {
                fds.push_back(pollfd{w.fd, w.events, 0});
                ids.push_back(id);
            }
        int timeout_ms = -1;
        if (!timers_.empty()) {
            int64_t wait = timers_.begin()->first - mono_us();
            timeout_ms = wait <= 0 ? 0 : static_cast<int>((wait + 999) / 1000);
        }
        int n = ::poll(fds.data(), fds.size(), timeout_ms);
        if (n < 0) continue; // EINTR
        for (size_t i = 0; i < fds.size() && !exit_; ++i) {
            if (!fds[i].revents) continue;
            auto it = watches_.find(ids[i]);
            if (it != watches_.end() && it->second.fd == fds[i].fd) {
                auto cb = it->second.cb; // the callback may unwatch itself
                cb(fds[i].revents);
            }
        }
    }
    return *exit_;
}

} // namespace m2m
