#pragma once
// loadgen: many simulated MQTT devices publishing at a set rate through a broker, with its own
// subscriber measuring end-to-end latency (from each message's intended send time, so a stall
// is not hidden: coordinated omission corrected), loss, duplicates and reordering.
#include "cli/options.hpp"
#include "mqtt/options.hpp"
#include "util/error.hpp"
#include <vector>

namespace m2m {

struct LoadgenArgs {
    MqttArgs mqtt; // BROKER, host, port, -V, credentials, TLS
    int devices = 10;
    double rate = 1;       // messages/s per device
    double total_rate = 0; // messages/s over all devices (instead of --rate)
    std::string duration = "10s";
    uint64_t count = 0; // messages per device (instead of --duration)
    int qos = 0;
    bool retain = false;
    std::string topic; // default: BROKER's topic, else loadgen/{dev}
    std::string payload = R"({"dev":{dev},"seq":{seq},"ts":{ts}})";
    std::string payload_file;  // records whose payloads the devices publish in turn
    size_t max_line = 1 << 20; // longest --payload-file line
    double connect_rate = 1000;
    std::string shard;   // K/N
    std::string json;    // summary file
    std::string report;  // self-contained HTML page
    std::string metrics; // OpenMetrics text file
    std::vector<std::string> fail_if;
    std::string junit; // --junit FILE: each --fail-if gate as a JUnit testcase
    bool no_sub = false;
    int subscribers = 1; // fan-out: each message reaches every one of them
    std::string shared;  // MQTT shared subscription group: each message reaches one of them
    std::string source;  // local addresses the devices connect from, round robin (ranges, lists)
    std::string id_prefix = "loadgen";
    std::string drain = "5s";       // how long the subscriber waits for stragglers
    std::vector<std::string> merge; // loadgen merge A.json B.json ...
    cli::CommonArgs common;
};

Expected<Exit> run_loadgen(const LoadgenArgs& a);
Expected<Exit> run_loadgen_merge(const LoadgenArgs& a);

} // namespace m2m
