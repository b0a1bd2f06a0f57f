// Record decode + frame encode throughput on 70-byte records, beside simdjson's own parse rate
// on the same lines. Prints MB/s per stage and the ratios (medians of alternating rounds, with the
// spread); run by tests/bench/run, whose table gets its rows.
#include "framing/framing.hpp"
#include "records/parser.hpp"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <simdjson.h>
#include <string>
#include <vector>

namespace {

std::vector<std::string> make_records(size_t n) {
    std::vector<std::string> v;
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        auto head = fmt::format(R"({{"ts":"2026-11-21T18:00:00.{:06}Z","seq":{},"text":"T=21.{}C)",
                                i % 1000000, i, i % 10);
        std::string pad(head.size() < 67 ? 67 - head.size() : 0, 'x'); // 70 bytes a line
        v.push_back(head + pad + "\"}");
    }
    return v;
}

template <typename F> double mb_per_s(const std::vector<std::string>& lines, size_t bytes, F&& body) {
    auto t0 = std::chrono::steady_clock::now();
    for (auto& l : lines)
        body(l);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return bytes / s / 1e6;
}

struct Runs {
    std::vector<double> v;
    double median() const {
        auto w = v;
        std::sort(w.begin(), w.end());
        return w[w.size() / 2];
    }
    double spread() const { // (max - min) / median, in percent
        auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        return (*hi - *lo) / median() * 100;
    }
};

// a row of ./dev.sh bench's table (benchlib.py's fields), when it asked for them
void table_row(const std::string& name, const Runs& ours, const Runs& anchor, const char* anchor_name) {
    const char* path = std::getenv("M2MKIT_BENCH_ROWS");
    if (!path) return;
    if (FILE* f = std::fopen(path, "a")) {
        std::fputs(fmt::format(R"({{"case":"{}","unit":"MB/s","m2mkit":{},"anchor":{},"anchor_name":"{}",)"
                               R"("ratio":{},"spread":{},"runs":{},"ceiling":null,"rss_m2mkit":null,)"
                               R"("rss_anchor":null,"note":""}})"
                               "\n",
                               name, ours.median(), anchor.median(), anchor_name,
                               ours.median() / anchor.median(), std::max(ours.spread(), anchor.spread()),
                               ours.v.size())
                       .c_str(),
                   f);
        std::fclose(f);
    }
}

} // namespace

int main(int argc, char** argv) {
    size_t n = argc > 1 ? std::stoul(argv[1]) : 1000000;
    auto lines = make_records(n);
    size_t bytes = 0;
    for (auto& l : lines)
        bytes += l.size() + 1;

    simdjson::dom::parser dom;
    std::string padded;
    size_t sink = 0;
    auto simd_parse = [&](const std::string& l) {
        padded.assign(l);
        padded.append(simdjson::SIMDJSON_PADDING, '\0');
        simdjson::dom::element el;
        if (!dom.parse(padded.data(), l.size(), false).get(el)) ++sink;
    };
    m2m::RecordParser parser;
    m2m::Record r;
    auto slip = m2m::make_framing("slip")->encoder();
    std::string out, scratch;
    auto to_slip = [&](const std::string& l) {
        if (parser.parse(l, r)) (void)slip->encode(r.payload_view(scratch), out);
        if (out.size() > (1 << 20)) sink += out.size(), out.clear();
    };
    auto to_jsonl = [&](const std::string& l) {
        if (parser.parse(l, r)) m2m::append_jsonl(out, r);
        if (out.size() > (1 << 20)) sink += out.size(), out.clear();
    };
    Runs simd, ours, jsonl;
    for (int round = 0; round < 5; ++round) { // the three in turn, so a slow moment falls on each
        simd.v.push_back(mb_per_s(lines, bytes, simd_parse));
        ours.v.push_back(mb_per_s(lines, bytes, to_slip));
        jsonl.v.push_back(mb_per_s(lines, bytes, to_jsonl));
    }
    std::printf("records: %zu lines of 70 bytes (%.1f MB), median of 5 alternating rounds (spread)\n", n,
                bytes / 1e6);
    std::printf("  simdjson DOM parse only       %8.1f MB/s (%.0f%%)\n", simd.median(), simd.spread());
    std::printf("  m2mkit decode + SLIP encode   %8.1f MB/s (%.0f%%)  ratio to simdjson %.2f\n",
                ours.median(), ours.spread(), ours.median() / simd.median());
    std::printf("  m2mkit decode + JSONL encode  %8.1f MB/s (%.0f%%)  ratio to simdjson %.2f\n",
                jsonl.median(), jsonl.spread(), jsonl.median() / simd.median());
    table_row("records: decode + SLIP encode, in process", ours, simd, "simdjson DOM parse only");
    table_row("records: decode + JSONL encode, in process", jsonl, simd, "simdjson DOM parse only");
    return sink == 0; // keep the work observable
}
