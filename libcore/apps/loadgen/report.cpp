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

/// The smallest of 1, 2, 2.5, 5 x 10^k at or above v: axis ends that divide into round ticks.
double nice_ceiling(double v) {
    if (v <= 0) return 1;
    double p = std::pow(10, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * p >= v * (1 - 1e-9)) return m * p;
    return 10 * p;
}

/// A tick value as people write it: 2500, 12.5, 0.25 (never 2.5e+03).
std::string tick(double v) {
    if (v == std::floor(v) && std::abs(v) < 1e15) return fmt::format("{:.0f}", v);
    std::string t = fmt::format("{:.3f}", v);
    while (t.back() == '0')
        t.pop_back();
    if (t.back() == '.') t.pop_back();
    return t;
}

} // namespace

std::string openmetrics(const Summary& s) {
    std::string o;
    auto counter = [&](const char* name, const char* help, uint64_t v) {
        o += fmt::format("# TYPE loadgen_{0} counter\n# HELP loadgen_{0} {1}\nloadgen_{0}_total {2}\n", name,
                         help, v);
    };
    auto gauge = [&](const char* name, const char* unit, const char* help, double v) {
        o += fmt::format("# TYPE loadgen_{0} gauge\n", name);
        if (*unit) o += fmt::format("# UNIT loadgen_{} {}\n", name, unit);
        o += fmt::format("# HELP loadgen_{} {}\nloadgen_{} {}\n", name, help, name, v);
    };
    gauge("devices", "", "Simulated devices in this run (or shard).", s.devices);
    counter("connects_ok", "Device connections the broker accepted.", s.connect_ok);
    counter("connects_failed", "Device connections that failed.", s.connect_failed);
    counter("messages_expected", "Messages the scenario asked for.", s.expected);
    counter("messages_sent", "Messages the devices published.", s.sent);
    counter("messages_acked", "QoS 1 messages the broker acknowledged.", s.acked);
    counter("messages_refused", "QoS 1 messages the broker refused (MQTT 5 reason codes).", s.refused);
    counter("messages_received", "Messages the subscriber received.", s.received);
    counter("messages_lost", "Messages sent that never arrived.", s.lost);
    counter("messages_duplicated", "Messages that arrived more than once.", s.duplicates);
    counter("messages_reordered", "Messages that arrived after a later one of the same device.", s.reordered);
    gauge("rate_messages_per_second", "", "Publish rate achieved.", s.rate);
    gauge("asked_rate_messages_per_second", "", "Publish rate asked for.", s.asked_rate);
    gauge("duration_seconds", "seconds", "From the first send to the last.", s.duration_s);
    auto summary = [&](const char* name, const char* help, const Hist& h) {
        o += fmt::format("# TYPE loadgen_{0}_seconds summary\n# UNIT loadgen_{0}_seconds seconds\n"
                         "# HELP loadgen_{0}_seconds {1}\n",
                         name, help);
        for (double q : {0.5, 0.9, 0.99, 0.999, 1.0})
            o += fmt::format("loadgen_{}_seconds{{quantile=\"{}\"}} {}\n", name, q,
                             static_cast<double>(q >= 1 ? h.max : h.pct(q)) / 1e6);
        o += fmt::format("loadgen_{}_seconds_count {}\n", name, h.n);
    };
    summary("latency",
            "End-to-end latency from each message's intended send time (each device's first message apart).",
            s.latency);
    summary("warmup", "Latency of each device's first message (the connection's warm-up).", s.warmup);
    gauge("peak_rss_bytes", "bytes", "loadgen's peak resident memory.",
          static_cast<double>(s.peak_rss_kb) * 1024);
    if (s.per_sub.size() > 1 || !s.shared.empty()) {
        o += "# TYPE loadgen_subscriber_received counter\n# HELP loadgen_subscriber_received Messages each "
             "subscriber received.\n";
        for (size_t k = 0; k < s.per_sub.size(); ++k)
            o += fmt::format("loadgen_subscriber_received_total{{subscriber=\"{}\"}} {}\n", k,
                             s.per_sub[k].received);
    }
    summary("connect", "From a device's connect to its CONNACK.", s.connect);
    return o + "# EOF\n";
}

std::string report_html(const Summary& s, const ReportInfo& info) {
    const double W = 760, H = 260, L = 60, T = 10;
    auto axis = [&](double ymax, const std::string& ylabel) {
        std::string g = fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#444"/>)"
                                    R"(<line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#444"/>)",
                                    L, T, T + H, L + W);
        for (int i = 0; i <= 4; ++i) {
            double y = T + H - H * i / 4;
            g += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ddd"/>)"
                             R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end">{}</text>)",
                             L, y, L + W, y, L - 4, y + 4, tick(ymax * i / 4));
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
    ymax = nice_ceiling(ymax * 1.05);
    auto line = [&](const std::vector<uint64_t>& v, const char* colour, const char* dash) {
        std::string pts;
        for (size_t i = 0; i < v.size(); ++i)
            pts += fmt::format("{:.1f},{:.1f} ",
                               L + W * (static_cast<double>(i) + 0.5) /
                                       static_cast<double>(std::max<size_t>(secs, 1)),
                               T + H - H * static_cast<double>(v[i]) / ymax);
        return fmt::format(
            R"(<polyline fill="none" stroke="{}" stroke-width="{}" stroke-dasharray="{}" points="{}"/>)",
            colour, *dash ? 3 : 2, dash, pts);
    };
    // received dashed and wider over sent: where they are equal both still show
    std::string tp =
        axis(ymax, "messages/s") + line(s.sent_per_s, "#1f77b4", "") + line(s.recv_per_s, "#ff7f0e", "6 4");
    for (size_t i = 0; i < secs; i += std::max<size_t>(1, secs / 10))
        tp += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}s</text>)",
                          L + W * (static_cast<double>(i) + 0.5) / static_cast<double>(secs), T + H + 16, i);
    tp += fmt::format(R"(<text x="{}" y="{}" font-size="12" fill="#1f77b4">sent</text>)"
                      R"(<text x="{}" y="{}" font-size="12" fill="#ff7f0e">received</text>)",
                      L + 10, T + 14, L + 50, T + 14);
    // latency by percentile, x = log10(1 / (1 - q)) as HdrHistogram plots it
    const double qs[] = {0, .25, .5, .75, .9, .95, .99, .995, .999, .9995, .9999, .99999};
    double lmax = nice_ceiling(std::max<double>(0.1, static_cast<double>(s.latency.max) / 1000) * 1.05);
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
    std::string verdict;
    if (info.gates.empty()) {
        verdict = R"(<p class="verdict none">No verdict: no --fail-if gates were given.</p>)";
    } else {
        bool failed = std::any_of(info.gates.begin(), info.gates.end(), [](auto& g) { return g.hit; });
        verdict = fmt::format(R"(<p class="verdict {}">{}</p><ul>)", failed ? "fail" : "pass",
                              failed ? "FAIL" : "PASS");
        for (auto& g : info.gates)
            verdict += fmt::format(R"(<li class="{}">--fail-if {}: {}</li>)", g.hit ? "fail" : "pass",
                                   escape_html(g.expr), g.hit ? "held, " + escape_html(g.why) : "not met");
        verdict += "</ul>";
    }
    std::string params;
    if (!info.params.empty()) {
        params = "<h2>Run</h2><table>";
        for (auto& [k, v] : info.params)
            params += fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape_html(k), escape_html(v));
        params += "</table>";
    }
    return fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadgen report</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}
.verdict{{font-size:2em;font-weight:bold;margin:.2em 0}}.pass{{color:#1a7f37}}.fail{{color:#c62828}}.none{{color:#666;font-size:1.2em}}
th{{text-align:left;padding-right:1.5em;font-weight:normal;color:#555}}td{{font-family:monospace}}svg{{overflow:visible}}</style></head>
<body><h1>loadgen report</h1>
{}
{}
<h2>Summary</h2>
<pre>{}</pre>
<h2>Throughput over time</h2>
{}
<h2>Latency by percentile (from the intended send time)</h2>
{}
</body></html>
)",
                       verdict, params, escape_html(s.text()), svg(tp, "throughput over time"),
                       svg(lat, "latency by percentile"));
}

} // namespace m2m::loadgen
