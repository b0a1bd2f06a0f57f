#pragma once
// Shared option groups, composed per tool. Parsing only validates; the run functions resolve
// (open links, decide tty and colour).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace m2m::cli {

struct CommonArgs {
    int verbose = 0;
    bool stats = false;
    bool strict = false;
    std::string generate;
    bool version = false;
};

struct LinkArgs {
    std::string uri;
    bool no_reconnect = false;
};

struct FramingArgs {
    std::string framing = "line";
    size_t max_frame = 65536;
};

struct OutputArgs {
    std::string format = "auto";
    std::string ts = "iso";
    std::string payload = "auto";
    std::string color = "auto";
    std::vector<std::string> set; // --set KEY=VALUE: constant fields added to each record
    std::string log;              // --log FILE: JSON Lines of every record, whatever the screen shows
};

struct LimitArgs {
    uint64_t count = 0; // 0 = no limit
    std::string timeout;
    std::string until;
};

void add_common_options(CLI::App& app, CommonArgs& a);
/// The LINK argument (what the tool does with it in `role`) and --no-reconnect.
void add_link_options(CLI::App& app, LinkArgs& a, const std::string& role, bool required);
/// --no-lock: share serial devices (for the tools that open links without add_link_options).
void add_no_lock_option(CLI::App& app);
/// coaps:// with a pre-shared key: --psk-identity and --psk-key-file (certificates come with the TLS
/// options). iot-pub, iot-sub and the bridge's CoAP uplink.
void add_psk_options(CLI::App& app, std::string& identity, std::string& key_file);
void add_framing_options(CLI::App& app, FramingArgs& a);
void add_output_options(CLI::App& app, OutputArgs& a);
/// --format, --ts, --color: how records are shown (add_output_options has them too).
void add_view_options(CLI::App& app, OutputArgs& a);
/// --log FILE (add_output_options has it too).
void add_log_option(CLI::App& app, OutputArgs& a);
void add_limit_options(CLI::App& app, LimitArgs& a, const std::string& count_what);

/// Restricts an option to fixed values and records them for completions and man pages.
CLI::Option* choices(CLI::Option* opt, std::vector<std::string> values);
/// A count that must be 1 or more ("--buffer: must be at least 1, got 0").
CLI::Validator at_least_one();
const std::vector<std::string>* choices_of(const CLI::Option* opt);
/// Value hints for completion: "link", "file", "framing".
CLI::Option* completes(CLI::Option* opt, std::string kind);
std::string completion_kind(const CLI::Option* opt);

/// M2MKIT_<LONG_NAME> for every long option: the environment layer of the configuration.
void add_env_names(CLI::App& app);
std::string env_name(const CLI::Option* opt);

} // namespace m2m::cli
