#include "util/clock.hpp"
#include <ctime>
#include <fmt/format.h>

namespace m2m {

static int64_t clock_us(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_us() {
    return clock_us(CLOCK_REALTIME);
}
int64_t mono_us() {
    return clock_us(CLOCK_MONOTONIC);
}

void append_rfc3339(std::string& out, int64_t epoch_us) {
    // Records are stamped in bursts within one second: the date and time are formatted once per
    // second and only the microseconds each time.
    thread_local int64_t cached_sec = -1;
    thread_local char prefix[24];
    int64_t sec = epoch_us / 1000000;
    if (sec != cached_sec) {
        time_t secs = static_cast<time_t>(sec);
        tm t{};
        gmtime_r(&secs, &t);
        fmt::format_to_n(prefix, sizeof prefix, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.", t.tm_year + 1900,
                         t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
        cached_sec = sec;
    }
    char frac[8];
    auto us = static_cast<uint32_t>(epoch_us % 1000000);
    for (int i = 5; i >= 0; --i, us /= 10)
        frac[i] = static_cast<char>('0' + us % 10);
    frac[6] = 'Z';
    out.append(prefix, 20);
    out.append(frac, 7);
}

std::string format_rfc3339(int64_t epoch_us) {
    std::string s;
    append_rfc3339(s, epoch_us);
    return s;
}

} // namespace m2m
