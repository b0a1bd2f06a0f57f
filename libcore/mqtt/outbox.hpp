#pragma once
// What the publishing tools share (iot-pub, bridge): the outbox -- a queue of messages, a window of QoS 1/2
// messages in flight, acknowledgements, and the messages a lost connection cut sent again after the
// reconnect.
#include "mqtt/props.hpp"
#include "mqtt/session.hpp"
#include "mqtt/topic.hpp"
#include "records/record.hpp"
#include "stats/stats.hpp"
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace m2m {

struct OutMsg {
    std::string topic, payload;
    int qos = 0;
    bool retain = false;
    bool has_props = false;
    PubProps props;
    uint64_t line = 0;         // the input line it came from (iot-pub), for messages about it
    uint64_t jid = no_journal; // its journal entry, when --persist keeps it
    bool resend = false;
    static constexpr uint64_t no_journal = ~uint64_t{0};
};

class Outbox {
  public:
    Outbox(MqttSession& session, RunStats& stats);
    std::deque<OutMsg> queue; // waiting to be sent, oldest first

    /// Can `m` go out now (connected, and for QoS 1/2 room in the window)?
    bool can_send(const OutMsg& m) const;
    /// Publishes `m` (with its props, if it has them). False when the connection is gone
    /// (the message stays the caller's); a message the client refuses is counted as failed,
    /// reported through on_bad, and true is returned.
    bool send(OutMsg& m);
    /// Retires the messages the client reports acknowledged (call after each service pass).
    void acks();
    /// The connection is gone: unacknowledged messages go back to the front of the queue, in
    /// the order they were sent.
    void requeue();
    int inflight() const { return inflight_count_; }
    bool idle() const { return queue.empty() && inflight_count_ == 0; }

    std::function<void(uint64_t line, const std::string& why)> on_bad;
    std::function<void(const OutMsg& m)> on_done; // acknowledged (QoS 1/2) or written (QoS 0)

  private:
    struct InFlight {
        bool done;
        OutMsg msg;
    };
    MqttSession& session_;
    RunStats& stats_;
    std::deque<InFlight> inflight_; // in the order sent; inflight_[0] is number head_
    uint64_t head_ = 0;             // the sequence number of inflight_.front()
    std::vector<uint64_t> slot_;    // token (packet identifier) -> sequence number of its message
    int inflight_count_ = 0;
    int inflight_qos2_ = 0;
    int qos2_cap_ = -1;          // lowered after a broker dropped a connection over too many (-1: config's)
    uint64_t acked_this_up_ = 0; // acknowledgements since the connection came up
};

} // namespace m2m
