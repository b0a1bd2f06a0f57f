#pragma once
// What the publishing tools share (iot-pub, bridge): the outbox -- the messages waiting to be sent, a
// window of QoS 1/2 messages in flight, acknowledgements, and the messages a lost connection cut sent
// again after the reconnect. The tools add messages, send the oldest and drop the oldest past their
// bounds through it; the queue and its byte count are the outbox's own.
#include "mqtt/props.hpp"
#include "mqtt/session.hpp"
#include "mqtt/topic.hpp"
#include "records/record.hpp"
#include "stats/stats.hpp"
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace m2m {

struct OutMsg {
    std::string topic, payload;
    int qos = 0;
    bool retain = false;
    PropsBox props;            // MQTT 5 properties, when the message has them
    uint64_t line = 0;         // the input line it came from (iot-pub), for messages about it
    uint64_t jid = no_journal; // its journal entry, when --persist keeps it
    bool resend = false;
    static constexpr uint64_t no_journal = ~uint64_t{0};
};

class Outbox {
  public:
    Outbox(MqttSession& session, RunStats& stats);

    /// Adds a message to the waiting queue, last.
    void push(OutMsg m);
    /// How many messages wait, and their payloads' bytes.
    size_t waiting() const { return queue_.size(); }
    uint64_t waiting_bytes() const { return queue_bytes_; }
    /// The oldest waiting message, null when none waits (the caller may amend it before send_next).
    OutMsg* next() { return queue_.empty() ? nullptr : &queue_.front(); }
    /// Sends the oldest waiting message if it can go now. False when it cannot (no room in the
    /// window, not connected, or the connection broke: it stays first); true when it went, or was
    /// refused by the client (counted as failed, reported through on_bad).
    bool send_next();
    /// Takes the oldest waiting message out of the queue and hands it to the caller (to count as
    /// dropped).
    OutMsg drop_oldest();

    /// Can `m` go out now (connected, and for QoS 1/2 room in the window)?
    bool can_send(const OutMsg& m) const;
    /// Publishes `m` (with its props, if it has them). False when the connection is gone
    /// (the message stays the caller's); a message the client refuses is counted as failed,
    /// reported through on_bad, and true is returned.
    bool send(OutMsg& m);
    /// Retires the messages the client reports acknowledged (call after each service pass).
    void acks();
    /// The connection is gone: unacknowledged messages go back to the front of the queue, in
    /// the order they were sent -- except those `divert` takes (returns true for; it may move
    /// from them), which the caller queues elsewhere.
    void requeue(const std::function<bool(OutMsg&)>& divert = {});
    int inflight() const { return inflight_count_; }
    bool idle() const { return queue_.empty() && inflight_count_ == 0; }

    std::function<void(uint64_t line, const std::string& why)> on_bad;
    std::function<void(const OutMsg& m)> on_done; // acknowledged (QoS 1/2) or written (QoS 0)

  private:
    struct InFlight {
        bool done;
        OutMsg msg;
    };
    MqttSession& session_;
    RunStats& stats_;
    std::deque<OutMsg> queue_;      // waiting to be sent, oldest first
    uint64_t queue_bytes_ = 0;      // their payloads' bytes
    std::deque<InFlight> inflight_; // in the order sent; inflight_[0] is number head_
    uint64_t head_ = 0;             // the sequence number of inflight_.front()
    // token (packet identifier) -> sequence number of its message: 512 KiB from calloc, whose
    // fresh pages the kernel zeroes when first touched, not a memset of all of them at start
    struct Free {
        void operator()(uint64_t* p) const { std::free(p); }
    };
    std::unique_ptr<uint64_t[], Free> slot_;
    int inflight_count_ = 0;
    int inflight_qos2_ = 0;
    int qos2_cap_ = -1;          // lowered after a broker dropped a connection over too many (-1: config's)
    uint64_t acked_this_up_ = 0; // acknowledgements since the connection came up
};

} // namespace m2m
