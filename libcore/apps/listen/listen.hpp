#pragma once
#include "cli/options.hpp"
#include "util/error.hpp"

namespace m2m {

struct ListenArgs {
    cli::LinkArgs link;
    bool list = false;
    std::string records;             // --records FILE|-: show saved records instead of a link
    bool interactive = false;        // -I: the console
    bool keys = false;               // --keys: each keystroke goes out as typed
    std::string menu_key = "ctrl-t"; // the console's menu
    std::string map;                 // --map ICRNL,ONLCRNL...: line-ending maps
    cli::FramingArgs framing;
    cli::OutputArgs output;
    cli::LimitArgs limits;
    cli::CommonArgs common;
};

/// m2m-listen: decode frames from a link and print one record per frame.
Expected<Exit> run_listen(const ListenArgs& args);
/// m2m-listen -I: the console (console.cpp).
Expected<Exit> run_console(const ListenArgs& args);
/// m2m-listen --records: saved records (a file, or - for stdin) shown again, each at the time it
/// carries, with the same limits and output choices as a live link.
Expected<Exit> show_records(const ListenArgs& args);

} // namespace m2m
