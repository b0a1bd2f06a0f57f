#include "util/clock.hpp"
#include <ctime>
#include <fmt/format.h>

namespace m2m {

static int64_t clock_us(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_us() { return clock_us(CLOCK_REALTIME); }
int64_t mono_us() { return clock_us(CLOCK_MONOTONIC); }

void append_rfc3339(std::string& out, int64_t epoch_us) {
    time_t secs = static_cast<time_t>(epoch_us / 1000000);
    tm t{};
    gmtime_r(&secs, &t);
    fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", t.tm_year + 1900,
                   t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, epoch_us % 1000000);
}

std::string format_rfc3339(int64_t epoch_us) {
    std::string s;
    append_rfc3339(s, epoch_us);
    return s;
}

} // namespace m2m
