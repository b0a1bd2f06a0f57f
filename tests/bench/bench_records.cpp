// Record decode + frame encode throughput on 70-byte records, beside simdjson's own parse rate
// on the same lines. Prints MB/s per stage and the ratios; run by tests/bench/run.
#include "framing/framing.hpp"
#include "records/parser.hpp"
#include <chrono>
#include <cstdio>
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
    double best = 0;
    for (int round = 0; round < 5; ++round) {
        auto t0 = std::chrono::steady_clock::now();
        for (auto& l : lines)
            body(l);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, bytes / s / 1e6);
    }
    return best;
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
    double simd = mb_per_s(lines, bytes, [&](const std::string& l) {
        padded.assign(l);
        padded.append(simdjson::SIMDJSON_PADDING, '\0');
        simdjson::dom::element el;
        if (!dom.parse(padded.data(), l.size(), false).get(el)) ++sink;
    });

    m2m::RecordParser parser;
    m2m::Record r;
    auto slip = m2m::make_framing("slip")->encoder();
    std::string out, scratch;
    double ours = mb_per_s(lines, bytes, [&](const std::string& l) {
        if (parser.parse(l, r)) (void)slip->encode(r.payload_view(scratch), out);
        if (out.size() > (1 << 20)) sink += out.size(), out.clear();
    });
    double jsonl = mb_per_s(lines, bytes, [&](const std::string& l) {
        if (parser.parse(l, r)) m2m::append_jsonl(out, r);
        if (out.size() > (1 << 20)) sink += out.size(), out.clear();
    });
    std::printf("records: %zu lines of 70 bytes (%.1f MB), best of 5\n", n, bytes / 1e6);
    std::printf("  simdjson DOM parse only       %8.1f MB/s\n", simd);
    std::printf(
        "  m2mkit decode + SLIP encode   %8.1f MB/s   ratio to simdjson %.2f   (target >= 300 MB/s)\n", ours,
        ours / simd);
    std::printf("  m2mkit decode + JSONL encode  %8.1f MB/s   ratio to simdjson %.2f\n", jsonl, jsonl / simd);
    return sink == 0; // keep the work observable
}
