#pragma once
// Diagnostics on stderr, always prefixed with the tool's name ("m2m-listen: error: …").
// stdout carries data only.
#include <fmt/format.h>
#include <functional>
#include <string_view>

namespace m2m::log {

void set_program(std::string_view name);
std::string_view program();
/// 0 = errors and warnings, 1 = --verbose (info), 2 = --verbose --verbose (debug).
void set_verbosity(int level);
int verbosity();
void write(std::string_view level, std::string_view message);
/// Sends each line (without its '\n') to `sink` instead of stderr, or back to stderr when empty:
/// the console shows them above its input line.
void set_sink(std::function<void(std::string_view line)> sink);
/// Hands each diagnostic to `write` (another copy of this log: a loaded module's goes to the tool's).
void set_forward(void (*write)(std::string_view level, std::string_view message));

template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
    write("error", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
    write("warning", fmt::format(f, std::forward<Args>(args)...));
}
/// Shown always: what the user must know (a pty's path, a reconnect).
template <typename... Args> void note(fmt::format_string<Args...> f, Args&&... args) {
    write("", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
    if (verbosity() >= 1) write("", fmt::format(f, std::forward<Args>(args)...));
}

} // namespace m2m::log
