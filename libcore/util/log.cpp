#include "util/log.hpp"
#include <string>
#include <unistd.h>

namespace m2m::log {

namespace {
std::string g_program = "m2mkit";
int g_verbosity = 0;
std::function<void(std::string_view)> g_sink;
void (*g_forward)(std::string_view, std::string_view) = nullptr;
} // namespace

void set_sink(std::function<void(std::string_view)> sink) {
    g_sink = std::move(sink);
}

void set_forward(void (*write)(std::string_view level, std::string_view message)) {
    g_forward = write;
}

void set_program(std::string_view name) {
    g_program = name;
}
std::string_view program() {
    return g_program;
}
void set_verbosity(int level) {
    g_verbosity = level;
}
int verbosity() {
    return g_verbosity;
}

void write(std::string_view level, std::string_view message) {
    if (g_forward) return g_forward(level, message);
    std::string line = g_program + ": ";
    if (!level.empty()) line.append(level).append(": ");
    line.append(message);
    if (g_sink) return g_sink(line);
    line += '\n';
    // One write per line so lines from several processes sharing stderr do not interleave.
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace m2m::log
