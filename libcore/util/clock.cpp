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

namespace m2m {

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    auto digits = [&](size_t at, size_t n) -> std::optional<int> {
        if (at + n > s.size()) return std::nullopt;
        int v = 0;
        for (size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return std::nullopt;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    auto Y = digits(0, 4), M = digits(5, 2), D = digits(8, 2), h = digits(11, 2), m = digits(14, 2),
         sec = digits(17, 2);
    if (!Y || !M || !D || !h || !m || !sec || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || *M < 1 || *M > 12 ||
        *D < 1 || *D > 31 || *h > 23 || *m > 59 || *sec > 60)
        return std::nullopt;
    size_t i = 19;
    int64_t frac = 0;
    if (i < s.size() && s[i] == '.') {
        int64_t scale = 100000;
        ++i;
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start) return std::nullopt;
    }
    int64_t offset = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        auto oh = digits(i + 1, 2), om = digits(i + 4, 2);
        if (!oh || !om || s[i + 3] != ':') return std::nullopt;
        offset = (s[i] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    // days from civil (Howard Hinnant's algorithm)
    int y = *Y - (*M <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = static_cast<unsigned>(y - era * 400);
    unsigned doy =
        (153 * static_cast<unsigned>(*M + (*M > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(*D) - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
    int64_t secs = days * 86400 + *h * 3600 + *m * 60 + *sec - offset;
    return secs * 1000000 + frac;
}

} // namespace m2m
