#include "apps/bridge/coap_uplink.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <poll.h>

namespace m2m {

namespace {

/// application/json for a record or a polled value, else text/plain or application/octet-stream.
int content_format(std::string_view payload) {
    if (!payload.empty() && payload.front() == '{' && payload.back() == '}') return 50;
    bool text = std::all_of(payload.begin(), payload.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
    });
    return text ? 0 : 42;
}

} // namespace

CoapUplink::CoapUplink(EventLoop& loop, std::unique_ptr<coap::Client> client, RunStats& stats,
                       std::string method)
    : loop_(loop), client_(std::move(client)), stats_(stats), method_(std::move(method)) {
    watch_ = loop_.watch(client_->fd(), POLLIN, [this](short) { process(); });
}

CoapUplink::~CoapUplink() {
    if (watch_ >= 0) loop_.unwatch(watch_);
    if (tick_ >= 0) loop_.cancel(tick_);
    if (backoff_ >= 0) loop_.cancel(backoff_);
}

void CoapUplink::push(OutMsg m) {
    bytes_ += m.payload.size();
    queue_.push_back(std::move(m));
    next();
}

OutMsg CoapUplink::drop_oldest() {
    // the one out now stays: its answer is on its way
    auto it = queue_.begin() + (busy_ && queue_.size() > 1 ? 1 : 0);
    OutMsg m = std::move(*it);
    queue_.erase(it);
    bytes_ -= m.payload.size();
    return m;
}

void CoapUplink::next() {
    if (busy_ || backoff_ >= 0 || queue_.empty()) return;
    OutMsg& m = queue_.front();
    client_->set_confirmable(m.qos > 0);
    if (auto st = client_->start(method_, m.topic, m.payload, content_format(m.payload)); !st) {
        log::error("{}: {}", m.topic, st.error().message);
        ++stats_.failed;
        bytes_ -= m.payload.size();
        OutMsg gone = std::move(m);
        queue_.pop_front();
        if (on_done) on_done(gone);
        return loop_.at(0, [this] { next(); }), void();
    }
    busy_ = true;
    if (attempt_ > 0) ++stats_.resent;
    process(); // a NON is answered at once
    if (busy_) arm_tick();
}

void CoapUplink::arm_tick() {
    if (tick_ >= 0) return;
    tick_ = loop_.at(mono_us() + 100000, [this] { // retransmissions, and giving up
        tick_ = -1;
        process();
        if (busy_) arm_tick();
    });
}

void CoapUplink::process() {
    client_->process();
    if (!busy_) return;
    auto a = client_->answer();
    if (!a) return;
    busy_ = false;
    OutMsg& m = queue_.front();
    if (a->why.empty() || !a->retry) {
        if (a->why.empty()) {
            ++stats_.published;
            if (m.qos > 0) ++stats_.acked;
        } else {
            ++stats_.failed;
            log::error("{}: {}: counted as failed", m.topic, a->why);
        }
        attempt_ = 0;
        bytes_ -= m.payload.size();
        OutMsg done = std::move(m);
        queue_.pop_front();
        if (on_done) on_done(done);
        return next();
    }
    // no answer, or 5.xx: the same message again after a while, the rest waiting behind it
    int64_t wait = std::min<int64_t>(250LL << std::min(attempt_, 5), 8000);
    if (attempt_ == 0)
        log::warn("{}: {}; sending it again in {} ms, and then less often (up to every 8 s); the rest wait "
                  "behind it",
                  m.topic, a->why, wait);
    else
        log::info("{}: {}; sending it again in {} ms", m.topic, a->why, wait);
    ++attempt_;
    backoff_ = loop_.at(mono_us() + wait * 1000, [this] {
        backoff_ = -1;
        next();
    });
}

} // namespace m2m
