#pragma once
// loadgen's results: the summary of a run (text, JSON, merged across shards), the --fail-if gates
// and the HTML report.
#include "apps/loadgen/loadgen.hpp"
#include "stats/histogram.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace m2m::loadgen {

struct Summary {
    int devices = 0;
    std::string shard;
    uint64_t connect_ok = 0, connect_failed = 0, sent = 0, acked = 0, received = 0, lost = 0, duplicates = 0,
             reordered = 0, expected = 0;
    uint64_t refused = 0; // MQTT 5: QoS 1 messages the broker answered with a failure reason code
    double asked_rate = 0, rate = 0, duration_s = 0,
           connect_s = 0; // connect_s: first connect to last CONNACK
    double receive_s = 0; // first send to last arrival: received / receive_s is the delivered rate
    int qos = 0;
    int subscribers = 1;      // 0: --no-sub
    std::string shared;       // the shared subscription group ("": each subscriber gets every message)
    uint64_t peak_rss_kb = 0; // loadgen's own peak memory (summed over merged shards)
    uint64_t base_rss_kb = 0; // resident before the first connection
    uint64_t held_rss_kb = 0; // resident with every connection up: memory per connection is the difference
    /// What one subscriber counted: deliveries, first arrivals, repeats, latency (warm-up apart).
    struct PerSub {
        uint64_t received = 0, unique = 0, duplicates = 0;
        Hist latency;
    };
    std::vector<PerSub> per_sub;
    /// Deliveries the run expects per message sent: every subscriber, or one of a shared group.
    uint64_t fanout() const {
        return subscribers <= 0 ? 0 : shared.empty() ? static_cast<uint64_t>(subscribers) : 1;
    }
    /// latency: every delivery but each device's first message; warmup: those first messages (the
    /// connection's first publish through the broker, reported apart)
    Hist latency, warmup, connect;
    std::vector<uint64_t> sent_per_s, recv_per_s; // by second since the first send

    static void bump(std::vector<uint64_t>& v, int64_t sec);
    static std::string list(const std::vector<uint64_t>& v);
    /// The --json file and --stats line (loadgen merge reads it back).
    std::string json() const;
    /// What loadgen prints at the end.
    std::string text() const;
    /// With more than one subscriber or a shared group: how the deliveries spread over them.
    std::string subscribers_text() const;
};

/// One --fail-if gate ('p99>50ms', 'loss>0', 'rate<1900', 'connect_failed>0') against `s`: true
/// when it holds (the run fails), with `why`; a gate that does not parse is a usage error.
Expected<bool> check(const Summary& s, const std::string& expr, std::string& why);

/// What the report page says besides the numbers: the run's parameters and the gates' outcome.
struct ReportInfo {
    std::vector<std::pair<std::string, std::string>> params; // name, value as given
    struct Gate {
        std::string expr;
        bool hit = false; // the gate held: the run fails
        std::string why;
    };
    std::vector<Gate> gates;
};

/// A self-contained page: a PASS/FAIL verdict from the gates, the run's parameters, the summary,
/// throughput over time (sent solid, received dashed) and the latency percentile curve as inline
/// SVG with round axis ticks. No scripts, no fonts or styles fetched from anywhere.
std::string report_html(const Summary& s, const ReportInfo& info = {});

/// The summary as OpenMetrics text (what Prometheus scrapes; --metrics FILE), ending in # EOF.
std::string openmetrics(const Summary& s);

/// Prints the summary, writes --report, --json and --junit, and judges the --fail-if gates:
/// exit 5 when one holds.
Exit finish_summary(const LoadgenArgs& a, const Summary& s);

} // namespace m2m::loadgen
