// The log-linear histogram (stats/histogram): quantiles within its bucket error, bounded memory,
// merging by adding counts.
#include "stats/histogram.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

TEST_CASE("histogram: quantiles within 1.6 %, the maximum exact") {
    Hist h;
    for (int64_t v = 1; v <= 100000; ++v)
        h.add(v);
    CHECK(h.n == 100000);
    CHECK(h.max == 100000);
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
        double want = q * 100000, got = static_cast<double>(h.pct(q));
        CHECK(got >= want);
        CHECK(got <= want * 1.016 + 1);
    }
    CHECK(h.pct(1.0) == 100000);
    CHECK(Hist{}.pct(0.99) == 0);
}

TEST_CASE("histogram: memory stays bounded however many values it takes") {
    Hist h;
    for (int64_t v = 0, step = 1; v < (int64_t{1} << 40); v += step, step += step / 8 + 1)
        h.add(v);
    h.add(INT64_MAX);
    CHECK(h.b.size() < 4000);
    CHECK(h.max == INT64_MAX);
}

TEST_CASE("histogram: two halves added bucket by bucket equal the whole") {
    Hist whole, a, b;
    for (int64_t v = 0; v < 5000; ++v) {
        whole.add(v * 37 % 9973);
        (v % 2 ? a : b).add(v * 37 % 9973);
    }
    for (auto& [i, c] : b.b)
        a.b[i] += c;
    a.n += b.n;
    a.max = std::max(a.max, b.max);
    CHECK(a.json() == whole.json());
}
