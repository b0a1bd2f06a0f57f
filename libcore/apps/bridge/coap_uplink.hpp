#pragma once
// bridge LINK coap://HOST/PATH: the uplink to a CoAP server instead of an MQTT broker. Each uplink
// message (a frame, a record with --whole, a polled value) is one request -- POST, or PUT with
// --method -- to the path its topic template gives, one at a time (RFC 7252's NSTART 1). --qos 0
// sends NON (counted published once it left), 1 and 2 send CON (acknowledged, retransmitted). A
// server that does not answer, or answers 5.xx, is tried again with backoff and the queue keeps its
// order (store and forward, bounded as for MQTT); 4.xx fails the message, counted and said.
#include "coap/coap.hpp"
#include "loop/event_loop.hpp"
#include "mqtt/outbox.hpp"
#include "stats/stats.hpp"
#include <deque>
#include <functional>
#include <memory>

namespace m2m {

class CoapUplink {
  public:
    CoapUplink(EventLoop& loop, std::unique_ptr<coap::Client> client, RunStats& stats, std::string method);
    ~CoapUplink();
    CoapUplink(const CoapUplink&) = delete;
    CoapUplink& operator=(const CoapUplink&) = delete;

    /// A message is done with: delivered, or failed for good (its journal entry is finished).
    std::function<void(const OutMsg&)> on_done;

    /// Queues `m` (m.topic is the resource's path; m.qos 0 sends it NON).
    void push(OutMsg m);
    size_t waiting() const { return queue_.size(); }
    uint64_t waiting_bytes() const { return bytes_; }
    OutMsg drop_oldest();
    /// Whether a request is out now.
    bool busy() const { return busy_; }

  private:
    void next();
    void process();
    void arm_tick();

    EventLoop& loop_;
    std::unique_ptr<coap::Client> client_;
    RunStats& stats_;
    std::string method_;
    std::deque<OutMsg> queue_;
    uint64_t bytes_ = 0;
    bool busy_ = false;
    int attempt_ = 0;
    int watch_ = -1, tick_ = -1, backoff_ = -1;
};

} // namespace m2m
