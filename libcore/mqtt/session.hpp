#pragma once
// An MQTT connection inside the event loop: connected at start (unreachable or refused = exit
// 4), serviced when the broker sends and on a timer (keepalive), and connected again with
// backoff (50 ms doubling to 2 s) when lost, unless reconnecting is off (exit 1). A broker
// that refuses the credentials on a reconnect ends the run (exit 1): retrying will not help.
#include "loop/event_loop.hpp"
#include "mqtt/client.hpp"
#include "stats/stats.hpp"
#include <functional>

namespace m2m {

class MqttSession {
  public:
    MqttSession(EventLoop& loop, MqttConfig cfg, bool reconnect, RunStats& stats);
    ~MqttSession();

    std::function<void(const MqttArrival&)> on_message;
    std::function<void()> on_serviced;   // after each service pass (acknowledgements may have come)
    std::function<void()> on_lost;       // the connection went away
    std::function<Status()> on_up;       // connected (also the first time): subscribe here
    std::function<void()> on_connecting; // before each connection attempt (the will may change)

    Status start();
    bool up() const { return up_; }
    MqttClient& client() { return *client_; }
    /// Writes what was published, and watches for the socket to take the rest.
    void flush();
    /// Handles what the broker sent now (also called after publishing a batch).
    void service();
    /// A subscriber's reads under a stream of messages: once they come faster than ~1 MB/s, wake
    /// when 64 KiB are waiting (SO_RCVLOWAT) or every 2 ms, whichever is first, instead of on every
    /// segment; below that, at once again. Each wake-up costs a context switch that weighed more
    /// than the messages it read (iot-sub).
    void coalesce_reads(bool on) { coalesce_ = on; }

  private:
    void attach();
    void lost();
    void retry();
    void arm_tick();
    void update_events();
    void read_pass(); // service() on a readable socket or the batch timer, then pace()
    void pace(uint64_t got);

    EventLoop& loop_;
    std::unique_ptr<MqttClient> client_;
    bool reconnect_;
    RunStats& stats_;
    int watch_ = -1, tick_ = -1, batch_timer_ = -1;
    bool up_ = false, coalesce_ = false, batching_ = false;
    int64_t last_read_us_ = 0;
    int64_t backoff_us_ = 50000;
};

} // namespace m2m
