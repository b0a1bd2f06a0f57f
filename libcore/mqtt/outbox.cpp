#include "mqtt/outbox.hpp"
#include "util/bytes.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <fmt/format.h>
#include <new>

namespace m2m {

Outbox::Outbox(MqttSession& session, RunStats& stats)
    : session_(session), stats_(stats), slot_(static_cast<uint64_t*>(std::calloc(65536, sizeof(uint64_t)))) {
    if (!slot_) throw std::bad_alloc();
}

void Outbox::push(OutMsg m) {
    queue_bytes_ += m.payload.size();
    queue_.push_back(std::move(m));
}

OutMsg Outbox::drop_oldest() {
    OutMsg m = std::move(queue_.front());
    queue_.pop_front();
    queue_bytes_ -= std::min<uint64_t>(queue_bytes_, m.payload.size());
    return m;
}

bool Outbox::send_next() {
    if (queue_.empty() || !can_send(queue_.front())) return false;
    size_t n = queue_.front().payload.size();
    if (!send(queue_.front())) return false;
    queue_.pop_front();
    queue_bytes_ -= std::min<uint64_t>(queue_bytes_, n);
    return true;
}

bool Outbox::can_send(const OutMsg& m) const {
    if (!session_.up() || session_.client().blocked()) return false;
    if (m.qos == 0) return true;
    int qos2_cap = qos2_cap_ >= 0 ? qos2_cap_ : session_.client().config().max_inflight_qos2;
    return inflight_count_ < session_.client().window() &&
           (m.qos < 2 || qos2_cap <= 0 || inflight_qos2_ < qos2_cap);
}

bool Outbox::send(OutMsg& m) {
    auto token = session_.client().publish(m.topic, m.payload, m.qos, m.retain, m.props.get());
    if (!token) {
        if (token.error().code == Exit::runtime) return false; // connection gone: stays queued
        ++stats_.failed;
        if (on_bad) on_bad(m.line, token.error().message);
        return true; // dropped, counted
    }
    if (m.resend)
        ++stats_.resent;
    else
        ++stats_.published;
    if (m.qos > 0) {
        if (m.qos == 2) ++inflight_qos2_;
        slot_[static_cast<size_t>(*token) & 0xffff] = head_ + inflight_.size();
        inflight_.push_back({false, std::move(m)});
        ++inflight_count_;
    } else if (on_done) {
        on_done(m);
    }
    return true;
}

void Outbox::acks() {
    for (auto& c : session_.client().take_completed()) {
        uint64_t seq = slot_[static_cast<size_t>(c.token) & 0xffff];
        if (seq < head_ || seq - head_ >= inflight_.size()) continue;
        auto& f = inflight_[static_cast<size_t>(seq - head_)];
        if (f.done) continue;
        f.done = true;
        --inflight_count_;
        if (f.msg.qos == 2) --inflight_qos2_;
        ++acked_this_up_;
        if (c.failed) {
            ++stats_.failed;
            log::warn("line {}: the broker refused the message: {}", f.msg.line, c.why);
        } else {
            ++stats_.acked;
        }
        if (on_done) on_done(f.msg);
    }
    while (!inflight_.empty() && inflight_.front().done) {
        inflight_.pop_front();
        ++head_;
    }
}

void Outbox::requeue(const std::function<bool(OutMsg&)>& divert) {
    if (uint64_t n = session_.client().take_unsent_qos0()) stats_.drops["qos0_unsent"] += n;
    // A broker that drops the connection when too many QoS 2 messages are in flight (mosquitto 2.0
    // beyond its max_inflight_messages, with an explicit --max-inflight) would do it again on every
    // reconnect: after a loss with none of them acknowledged, send half as many at once.
    if (inflight_qos2_ > 1 && acked_this_up_ == 0) {
        qos2_cap_ = std::max(1, inflight_qos2_ / 2);
        log::warn(
            "the connection was lost with {} QoS 2 messages in flight and none acknowledged; sending at "
            "most {} at once from now on (the broker's limit may be lower: mosquitto's "
            "max_inflight_messages is 20 by default)",
            inflight_qos2_, qos2_cap_);
    }
    acked_this_up_ = 0;
    for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it)
        if (!it->done) {
            it->msg.resend = true;
            if (divert && divert(it->msg)) continue;
            queue_bytes_ += it->msg.payload.size();
            queue_.push_front(std::move(it->msg));
        }
    head_ += inflight_.size();
    inflight_.clear();
    inflight_count_ = inflight_qos2_ = 0;
}

} // namespace m2m
