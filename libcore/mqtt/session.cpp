#include "mqtt/session.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <poll.h>
#include <sys/socket.h>

namespace m2m {

MqttSession::MqttSession(EventLoop& loop, MqttConfig cfg, bool reconnect, RunStats& stats)
    : loop_(loop), client_(std::make_unique<MqttClient>(std::move(cfg))), reconnect_(reconnect),
      stats_(stats) {
    stats_.mqtt = true;
}

MqttSession::~MqttSession() {
    if (watch_ >= 0) loop_.unwatch(watch_);
    if (tick_ >= 0) loop_.cancel(tick_);
    if (batch_timer_ >= 0) loop_.cancel(batch_timer_);
}

Status MqttSession::start() {
    if (on_connecting) on_connecting();
    if (auto st = client_->connect(); !st) return st;
    log::info("connected to {} as {}", client_->config().src(), client_->config().client_id);
    attach();
    if (on_up) return on_up();
    return {};
}

void MqttSession::attach() {
    up_ = true;
    backoff_us_ = 50000;
    watch_ = loop_.watch(client_->fd(), POLLIN, [this](short ev) {
        if (ev & POLLOUT) {
            flush();
            // the socket took what waited: publishing may go on
            if (up_ && !client_->blocked() && on_serviced) on_serviced();
        }
        if (up_ && (ev & ~POLLOUT)) read_pass();
    });
    arm_tick();
}

void MqttSession::read_pass() {
    uint64_t before = client_->bytes_in();
    service();
    if (coalesce_ && up_) pace(client_->bytes_in() - before);
}

void MqttSession::pace(uint64_t got) {
    int64_t now = mono_us();
    int64_t gap = std::max<int64_t>(1, now - last_read_us_);
    last_read_us_ = now;
    // bytes per microsecond = MB/s: batch above 1, stop below 0.25 (no flapping at the edge)
    double rate = static_cast<double>(got) / static_cast<double>(gap);
    bool busy = batching_ ? rate >= 0.25 : rate >= 1.0;
    if (busy != batching_) {
        int lowat = busy ? 65536 : 1;
        ::setsockopt(client_->fd(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
        batching_ = busy;
    }
    if (batch_timer_ >= 0) loop_.cancel(batch_timer_), batch_timer_ = -1;
    if (batching_)
        batch_timer_ = loop_.at(now + 2000, [this] {
            batch_timer_ = -1;
            if (up_) read_pass();
        });
}

void MqttSession::update_events() {
    if (watch_ >= 0)
        loop_.set_events(watch_, static_cast<short>(POLLIN | (client_->wants_write() ? POLLOUT : 0)));
}

void MqttSession::flush() {
    if (!up_) return;
    if (!client_->flush()) {
        if (!loop_.stopped()) lost();
        return;
    }
    update_events();
}

void MqttSession::arm_tick() {
    if (tick_ >= 0) loop_.cancel(tick_);
    tick_ = loop_.at(mono_us() + 200000, [this] {
        tick_ = -1;
        if (!up_) return;
        service();
        if (up_) arm_tick();
    });
}

void MqttSession::service() {
    if (!up_) return;
    bool alive = client_->service([this](const MqttArrival& a) {
        ++stats_.received;
        if (a.dup) ++stats_.duplicates;
        if (on_message) on_message(a);
    });
    if (alive) {
        if (on_serviced) on_serviced();
        flush(); // the answers service() queued and what on_serviced published, in one write
    } else if (up_ && !loop_.stopped()) {
        lost();
    }
}

void MqttSession::lost() {
    up_ = false;
    batching_ = false; // a new connection starts with a new socket: RCVLOWAT 1
    if (batch_timer_ >= 0) loop_.cancel(batch_timer_), batch_timer_ = -1;
    if (watch_ >= 0) loop_.unwatch(watch_), watch_ = -1;
    if (tick_ >= 0) loop_.cancel(tick_), tick_ = -1;
    if (on_lost) on_lost();
    if (!reconnect_) {
        loop_.fail(Exit::runtime, fmt::format("{}: connection lost", client_->config().src()));
        return;
    }
    log::note("{}: connection lost; reconnecting", client_->config().src());
    loop_.at(mono_us() + backoff_us_, [this] { retry(); });
}

void MqttSession::retry() {
    if (loop_.stopped()) return;
    if (on_connecting) on_connecting();
    auto st = client_->connect();
    if (!st) {
        if (client_->auth_refused()) {
            loop_.fail(Exit::runtime, st.error().message);
            return;
        }
        log::info("{}", st.error().message);
        backoff_us_ = std::min<int64_t>(backoff_us_ * 2, 2000000);
        loop_.at(mono_us() + backoff_us_, [this] { retry(); });
        return;
    }
    ++stats_.reconnects;
    log::note("{}: reconnected", client_->config().src());
    attach();
    if (on_up) {
        if (auto s = on_up(); !s) {
            loop_.fail(Exit::runtime, s.error().message);
            return;
        }
    }
    service();
}

} // namespace m2m
