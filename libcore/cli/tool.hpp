#pragma once
// What a tool is, for its man page and --help, and the one place a tool's run is wrapped:
// parse, --version, --generate, the top-level error handler, the exit status.
#include "cli/options.hpp"
#include "util/error.hpp"
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace m2m::cli {

struct ToolDoc {
    std::string name;
    std::string summary;     // one line: the app description
    std::string description; // man page DESCRIPTION; paragraphs split by blank lines
    std::vector<std::pair<std::string, std::string>> examples; // command, what it does
    // extra --version lines: the libraries this tool runs on (asked only by --version: it may load
    // the module that holds OpenSSL)
    std::string (*libraries)() = nullptr;
};

/// Parses argv and runs `run` (which returns the exit status or an Error), printing errors as
/// "tool: error: message". Returns the process exit status.
int run_tool(CLI::App& app, const ToolDoc& doc, CommonArgs& common, int argc, char** argv,
             const std::function<Expected<Exit>()>& run);

std::string version_text(const std::string& tool, const std::string& libraries = "");

std::string generate_man(const CLI::App& app, const ToolDoc& doc);
std::string generate_manual7();
std::string generate_bash(const CLI::App& app);
std::string generate_zsh(const CLI::App& app);
std::string generate_fish(const CLI::App& app);

/// The seven tools, in the order the documentation lists them (SEE ALSO, m2mkit(7)).
const std::vector<std::string>& tool_names();

/// The exit status table, shared by every man page and m2mkit(7).
const std::vector<std::pair<int, std::string>>& exit_status_table();

} // namespace m2m::cli
