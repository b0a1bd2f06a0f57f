#pragma once
#include "cli/options.hpp"
#include "util/error.hpp"

namespace m2m {

struct ListenArgs {
    cli::LinkArgs link;
    bool list = false;
    cli::FramingArgs framing;
    cli::OutputArgs output;
    cli::LimitArgs limits;
    cli::CommonArgs common;
};

/// m2m-listen: decode frames from a link and print one record per frame.
Expected<Exit> run_listen(const ListenArgs& args);

} // namespace m2m
