#pragma once
#include "cli/options.hpp"
#include "mqtt/options.hpp"

namespace m2m {

struct SubArgs {
    MqttArgs mqtt;
    std::vector<std::string> topics;
    int qos = -1; // -1: the BROKER URI's ?qos=, else 0
    bool no_local = false;
    bool retained_only = false;
    bool ignore_retained = false;
    size_t max_message = 0; // 0: no limit; over it a message is skipped unbuffered and counted
    // mosquitto_sub's output and habits
    bool topic_payload = false;             // -v: "topic payload"
    std::string format;                     // -F: mosquitto_sub's format codes
    bool no_newline = false;                // -N
    std::vector<std::string> hide;          // -T: filters whose messages are not printed
    std::vector<std::string> unsub;         // -U: filters to unsubscribe from (a persistent session's)
    bool exit_after_subscribe = false;      // -E
    bool remove_retained = false;           // --remove-retained: clear each retained message seen
    bool observe = false;                   // coap://: --observe (RFC 7641), else one GET
    std::string psk_identity, psk_key_file; // coaps://
    std::string decode = "auto";            // auto (Sparkplug B on its namespace) | sparkplug | none
    cli::OutputArgs output;
    cli::LimitArgs limits;
    cli::CommonArgs common;
};

Expected<Exit> run_sub(const SubArgs& a);

} // namespace m2m
