#include "apps/loadgen/summary.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace m2m::loadgen {

namespace {

std::string escape_html(std::string_view t) {
    std::string o;
    for (char c : t)
        o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return o;
}

} // namespace

std::string report_html(const Summary& s) {
    const double W = 760, H = 260, L = 60, T = 10;
    auto axis = [&](double ymax, const std::string& ylabel) {
        std::string g = fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#444"/>)"
                                    R"(<line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#444"/>)",
                                    L, T, T + H, L + W);
        for (int i = 0; i <= 4; ++i) {
            double y = T + H - H * i / 4;
            g += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ddd"/>)"
                             R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end">{:.4g}</text>)",
                             L, y, L + W, y, L - 4, y + 4, ymax * i / 4);
        }
        g += fmt::format(R"~(<text x="12" y="{}" font-size="12" transform="rotate(-90 12 {})">{}</text>)~",
                         T + H / 2, T + H / 2, ylabel);
        return g;
    };
    // throughput
    size_t secs = std::max(s.sent_per_s.size(), s.recv_per_s.size());
    double ymax = 1;
    for (auto v : s.sent_per_s)
        ymax = std::max(ymax, static_cast<double>(v));
    for (auto v : s.recv_per_s)
        ymax = std::max(ymax, static_cast<double>(v));
    ymax *= 1.1;
    auto line = [&](const std::vector<uint64_t>& v, const char* colour) {
        std::string pts;
        for (size_t i = 0; i < v.size(); ++i)
            pts += fmt::format("{:.1f},{:.1f} ",
                               L + W * (static_cast<double>(i) + 0.5) /
                                       static_cast<double>(std::max<size_t>(secs, 1)),
                               T + H - H * static_cast<double>(v[i]) / ymax);
        return fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>)", colour,
                           pts);
    };
    std::string tp = axis(ymax, "messages/s") + line(s.sent_per_s, "#1f77b4") + line(s.recv_per_s, "#ff7f0e");
    for (size_t i = 0; i < secs; i += std::max<size_t>(1, secs / 10))
        tp += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}s</text>)",
                          L + W * (static_cast<double>(i) + 0.5) / static_cast<double>(secs), T + H + 16, i);
    tp += fmt::format(R"(<text x="{}" y="{}" font-size="12" fill="#1f77b4">sent</text>)"
                      R"(<text x="{}" y="{}" font-size="12" fill="#ff7f0e">received</text>)",
                      L + 10, T + 14, L + 60, T + 14);
    // latency by percentile, x = log10(1 / (1 - q)) as HdrHistogram plots it
    const double qs[] = {0, .25, .5, .75, .9, .95, .99, .995, .999, .9995, .9999, .99999};
    double lmax = std::max<double>(1, static_cast<double>(s.latency.max) / 1000) * 1.1;
    std::string pts;
    for (double q : qs)
        pts += fmt::format("{:.1f},{:.1f} ", L + W * std::log10(1 / (1 - q)) / 5,
                           T + H - H * (static_cast<double>(s.latency.pct(q)) / 1000) / lmax);
    std::string lat =
        axis(lmax, "latency, ms") +
        fmt::format(R"(<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="{}"/>)", pts);
    const char* names[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int i = 0; i <= 5; ++i)
        lat += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>)",
                           L + W * i / 5, T + H + 16, names[i]);
    auto svg = [&](const std::string& body, const char* title) {
        return fmt::format(
            R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{}">{}</svg>)",
            L + W + 20, T + H + 30, title, body);
    };
    return fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadgen report</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}</style></head>
<body><h1>loadgen report</h1>
<pre>{}</pre>
<h2>Throughput over time</h2>
{}
<h2>Latency by percentile (from the intended send time)</h2>
{}
</body></html>
)",
                       escape_html(s.text()), svg(tp, "throughput over time"),
                       svg(lat, "latency by percentile"));
}

} // namespace m2m::loadgen
