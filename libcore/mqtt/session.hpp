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
    std::function<void()> on_serviced; // after each service pass (acknowledgements may have come)
    std::function<void()> on_lost;     // the connection went away
    std::function<Status()> on_up;     // connected (also the first time): subscribe here

    Status start();
    bool up() const { return up_; }
    MqttClient& client() { return *client_; }
    /// Writes what was published, and watches for the socket to take the rest.
    void flush();
    const std::string& failure() const { return failure_; }
    /// Handles what the broker sent now (also called after publishing a batch).
    void service();

  private:
    void attach();
    void lost();
    void retry();
    void arm_tick();
    void update_events();

    EventLoop& loop_;
    std::unique_ptr<MqttClient> client_;
    bool reconnect_;
    RunStats& stats_;
    int watch_ = -1, tick_ = -1;
    bool up_ = false;
    int64_t backoff_us_ = 50000;
    std::string failure_;
};

} // namespace m2m
