#pragma once
#include "cli/options.hpp"
#include "util/error.hpp"

namespace m2m {

struct SendArgs {
    cli::LinkArgs link;
    bool raw = false;
    size_t max_line = 1 << 20;
    std::string interval;
    bool reply = false;
    std::string reply_timeout = "1s";
    std::string reply_gap; // a reply ends after this much silence (empty: at its first frame)
    std::string junit;     // --junit FILE: a JUnit XML report, one testcase per request
    cli::FramingArgs framing;
    cli::OutputArgs output;
    cli::LimitArgs limits; // count: frames to send
    cli::CommonArgs common;
};

/// m2m-send: read records (or bare lines) on stdin, frame them, write them to a link.
Expected<Exit> run_send(const SendArgs& args);

} // namespace m2m
