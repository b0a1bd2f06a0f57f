#include "stats/histogram.hpp"
#include <fmt/format.h>

namespace m2m {

std::string Hist::json() const {
    std::string s = fmt::format(R"({{"count":{},"p50":{},"p90":{},"p99":{},"p999":{},"max":{},"buckets":[)",
                                n, pct(.5), pct(.9), pct(.99), pct(.999), max);
    bool first = true;
    for (auto& [i, c] : b)
        s += fmt::format("{}[{},{}]", first ? "" : ",", lower(i), c), first = false;
    return s + "]}";
}

} // namespace m2m
