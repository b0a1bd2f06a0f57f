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
    cli::OutputArgs output;
    cli::LimitArgs limits;
    cli::CommonArgs common;
};

Expected<Exit> run_sub(const SubArgs& a);

} // namespace m2m
