#include "runtime/link_session.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <poll.h>

namespace m2m {

LinkSession::LinkSession(EventLoop& loop, std::unique_ptr<Link> link, bool reconnect, RunStats& stats,
                         bool read)
    : loop_(loop), link_(std::move(link)), reconnect_(reconnect), read_(read), stats_(stats) {}

LinkSession::~LinkSession() {
    if (watch_ >= 0) loop_.unwatch(watch_);
    link_->close();
}

Status LinkSession::start() {
    if (auto st = link_->open(); !st) return st;
    attach();
    return {};
}

void LinkSession::attach() {
    up_ = true;
    backoff_us_ = 50000;
    watch_ = loop_.watch(link_->fd(), events(), [this](short revents) {
        if (revents & POLLOUT && on_writable) on_writable();
        if (up_ && read_ && revents & (POLLIN | POLLHUP | POLLERR))
            readable();
        else if (up_ && revents & (POLLHUP | POLLERR) && !(revents & POLLOUT))
            lost("closed by the other end");
    });
}

short LinkSession::events() const {
    return static_cast<short>((read_ ? POLLIN : 0) | (want_write_ ? POLLOUT : 0));
}

void LinkSession::want_write(bool on) {
    want_write_ = on;
    if (watch_ >= 0) loop_.set_events(watch_, events());
}

void LinkSession::readable() {
    for (int i = 0; i < 16 && up_; ++i) { // bounded, so other watches get their turn
        buf_.clear();
        int fd_before = link_->fd();
        auto r = link_->read(buf_);
        stats_.bytes_in += buf_.size();
        if (!buf_.empty() && on_data) on_data(buf_);
        if (r.status == ReadStatus::eof) {
            if (on_eof) on_eof();
            return;
        }
        if (r.status == ReadStatus::lost) return lost(r.why);
        if (link_->fd() != fd_before) { // a listener took or lost its peer
            loop_.unwatch(watch_);
            attach();
        }
        if (r.status == ReadStatus::would_block) return;
    }
}

size_t LinkSession::write(std::string_view bytes) {
    if (!up_) return 0;
    auto n = link_->write(bytes);
    if (!n) {
        if (n.error().code == Exit::ok) { // the output was closed by its reader: done
            up_ = false;
            loop_.unwatch(watch_);
            watch_ = -1;
            link_->close();
            loop_.stop(Exit::ok);
            return 0;
        }
        lost(n.error().message);
        return 0;
    }
    stats_.bytes_out += *n;
    return *n;
}

void LinkSession::lost(const std::string& why) {
    if (!up_) return;
    up_ = false;
    loop_.unwatch(watch_);
    watch_ = -1;
    link_->close();
    if (!reconnect_ || !link_->reconnectable()) {
        loop_.fail(Exit::runtime, fmt::format("link {} lost: {}", link_->name(), why));
        return;
    }
    log::note("link {} lost ({}); reconnecting", link_->name(), why);
    if (on_lost) on_lost();
    loop_.at(mono_us() + backoff_us_, [this] { retry(); });
}

void LinkSession::retry() {
    if (auto st = link_->open(); !st) {
        log::info("reconnect failed: {}", st.error().message);
        backoff_us_ = std::min<int64_t>(backoff_us_ * 2, 1000000);
        loop_.at(mono_us() + backoff_us_, [this] { retry(); });
        return;
    }
    ++stats_.reconnects;
    log::note("link {} is back", link_->name());
    attach();
    if (on_up) on_up();
}

void LinkSession::when_taken(std::function<void()> then) {
    if (taken_timer_ >= 0) loop_.cancel(taken_timer_), taken_timer_ = -1;
    quiet_ = link_->pending_out() > 0 ? 0 : quiet_ + 1;
    if (quiet_ >= link_->quiet_readings()) {
        quiet_ = 0;
        link_->drain();
        then();
        return;
    }
    taken_timer_ = loop_.at(mono_us() + 10000, [this, then = std::move(then)]() mutable {
        taken_timer_ = -1;
        when_taken(std::move(then));
    });
}

} // namespace m2m
