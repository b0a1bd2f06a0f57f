#pragma once
// A log-linear histogram of microseconds: 64 linear steps per power of two (under 1.6 % error),
// in bounded memory (at most ~3,800 buckets for any int64 value), mergeable by adding counts --
// loadgen's shards are merged this way, never by averaging. Latencies (loadgen) and lateness
// (replay) are kept in one, so a run of any length holds the same few kilobytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

namespace m2m {

struct Hist {
    std::map<int, uint64_t> b;
    uint64_t n = 0;
    int64_t max = 0;
    static int index(int64_t v) {
        if (v < 64) return static_cast<int>(std::max<int64_t>(v, 0));
        int e = 63 - __builtin_clzll(static_cast<unsigned long long>(v));
        return (e - 5) * 64 + static_cast<int>((v >> (e - 6)) & 63);
    }
    static int64_t lower(int i) {
        if (i < 64) return i;
        int e = i / 64 + 5;
        return (int64_t{64} + i % 64) << (e - 6);
    }
    void add(int64_t v, uint64_t count = 1) {
        b[index(v)] += count;
        n += count;
        max = std::max(max, v);
    }
    /// The q-quantile (0..1), as the upper end of its bucket, never above the maximum.
    int64_t pct(double q) const {
        if (!n) return 0;
        uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n))), seen = 0;
        for (auto& [i, c] : b)
            if ((seen += c) >= std::max<uint64_t>(want, 1)) return std::min(max, lower(i + 1) - 1);
        return max;
    }
    /// {"count":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"buckets":[[lower,count],...]}
    std::string json() const;
};

} // namespace m2m
