#pragma once
// bridge LINK BROKER: a gateway in one process (docs/design.md, "The tools"). Uplink: frames from the
// link become records and are published. Downlink: messages on --command-topic become frames on
// the link, and with --reply-topic the device's answer is published back. Modbus polling from a
// register map. A retained status topic (online / offline by the last will, link up / down),
// per-device availability, periodic stats, and store and forward while the broker is away
// (bounded; with --persist a journal on disk so a restart of the bridge loses nothing).
#include "cli/options.hpp"
#include "mqtt/options.hpp"

namespace m2m {

struct BridgeArgs {
    std::string link;
    MqttArgs mqtt;
    cli::FramingArgs framing;
    std::string topic; // uplink topic template over record fields
    int qos = 1;
    bool retain = false;
    bool whole = false;
    std::vector<std::string> set; // --set KEY=VALUE on every uplink record and polled value
    std::string payload = "auto"; // how the uplink record shows the frame (--whole)
    std::string command_topic, reply_topic;
    std::string reply_timeout = "1s";
    int retries = 1;              // a poll read with no (good) answer is sent again this often
    std::string turnaround = "0"; // quiet time after each exchange, beyond 3.5 characters
    std::string map;              // Modbus register map (TOML)
    std::string modbus_server;    // tcp-listen://HOST:PORT: Modbus TCP masters reach the link's devices
    std::string poll = "1s";      // default poll interval
    bool on_change = false;       // publish polled values only when they change
    std::string sparkplug;        // GROUP/NODE: publish the map as a Sparkplug B edge node
    std::string status_topic;     // default m2m/bridge/<client id>
    std::string stats_interval = "60s";
    size_t buffer = 100000;
    size_t buffer_bytes = 64u << 20;
    std::string persist;
    std::string persist_sync = "batch"; // batch | message | off (see mqtt/journal.hpp)
    int max_inflight = 100; // as iot-pub's: a window of 20 held the bridge under m2m-listen | iot-pub (#18)
    int max_inflight_qos2 = 20;  // unless --max-inflight is given (mosquitto 2.0 drops QoS 2 beyond 20)
    std::string method = "POST"; // a CoAP uplink's requests: POST or PUT
    std::string psk_identity, psk_key_file; // coaps:// with a pre-shared key
    cli::CommonArgs common;
};

Expected<Exit> run_bridge(const BridgeArgs& a);

} // namespace m2m
