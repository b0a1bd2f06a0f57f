#include "util/log.hpp"
#include <string>
#include <unistd.h>

namespace m2m::log {

namespace {
std::string g_program = "m2mkit";
int g_verbosity = 0;
} // namespace

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
    std::string line = g_program + ": ";
    if (!level.empty()) line.append(level).append(": ");
    line.append(message).append("\n");
    // One write per line so lines from several processes sharing stderr do not interleave.
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace m2m::log
