#pragma once
// One meaning per short flag across the seven tools: the table the tools' options follow, the
// m2mkit(7) section that documents it, and the hint a user gets for a letter a tool does not have
// (test_docs checks every tool's --help against the table).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace m2m::cli {

struct ShortFlag {
    char letter;
    std::vector<std::string> longs; // the long option(s) it stands for; more than one: the same meaning
    std::string meaning;
};

/// Every short flag any tool has, mosquitto's meaning where mosquitto_pub/sub have the letter.
const std::vector<ShortFlag>& short_flags();

/// For a command line CLI11 refused: when it holds a short flag this tool lacks, what the letter
/// means in m2mkit and what this tool calls what the user likely wanted ("" if nothing fits).
std::string short_flag_hint(const CLI::App& app, const std::vector<std::string>& args);

/// The m2mkit(7) section: each letter, its long option and meaning.
std::string short_flags_man();

} // namespace m2m::cli
