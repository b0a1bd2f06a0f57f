#include "apps/loadgen/summary.hpp"
#include "output/junit.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <cstdio>
#include <cstdlib>
#include <fmt/ranges.h>
#include <fstream>
#include <simdjson.h>

namespace m2m {

namespace loadgen {

void Summary::bump(std::vector<uint64_t>& v, int64_t sec) {
    if (sec < 0) sec = 0;
    if (static_cast<size_t>(sec) >= v.size()) v.resize(static_cast<size_t>(sec) + 1);
    ++v[static_cast<size_t>(sec)];
}
std::string Summary::list(const std::vector<uint64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
        s += fmt::format("{}{}", i ? "," : "", v[i]);
    return s + "]";
}

std::string Summary::json() const {
    std::string subs = "[";
    for (size_t i = 0; i < per_sub.size(); ++i)
        subs += fmt::format(R"({}{{"received":{},"unique":{},"duplicates":{},"latency_us":{}}})",
                            i ? "," : "", per_sub[i].received, per_sub[i].unique, per_sub[i].duplicates,
                            per_sub[i].latency.json());
    subs += "]";
    return fmt::format(
        R"({{"devices":{},"shard":"{}","qos":{},"subscribers":{},"shared":"{}","asked_rate":{},"rate":{:.1f},"duration_s":{:.3f},"expected":{},"sent":{},"acked":{},"refused":{},"received":{},"lost":{},"duplicates":{},"reordered":{},"receive_s":{:.3f},"peak_rss_kb":{},"base_rss_kb":{},"held_rss_kb":{},"connects":{{"ok":{},"failed":{},"seconds":{:.3f},"latency_us":{}}},"latency_us":{},"warmup_us":{},"per_subscriber":{},"sent_per_s":{},"received_per_s":{}}})",
        devices, shard, qos, subscribers, shared, asked_rate, rate, duration_s, expected, sent, acked,
        refused, received, lost, duplicates, reordered, receive_s, peak_rss_kb, base_rss_kb, held_rss_kb,
        connect_ok, connect_failed, connect_s, connect.json(), latency.json(), warmup.json(), subs,
        list(sent_per_s), list(recv_per_s));
}
std::string Summary::text() const {
    auto ms = [](int64_t us) { return fmt::format("{:.2f} ms", static_cast<double>(us) / 1000); };
    return fmt::format(
               "devices {}{}: connected {}, failed {} in {:.3f} s, {:.0f}/s (connect p50 {}, p99 {}, max "
               "{})\n"
               "messages: sent {} of {}, acked {}{}, received {}{}, lost {}, duplicates {}, reordered {}\n"
               "rate: {:.1f} msg/s sent (asked {:.1f}) over {:.3f} s\n"
               "latency (from the intended send time): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  ({} "
               "samples)\n",
               devices, shard.empty() ? "" : " (shard " + shard + ")", connect_ok, connect_failed, connect_s,
               connect_s > 0 ? static_cast<double>(connect_ok) / connect_s : 0.0, ms(connect.pct(.5)),
               ms(connect.pct(.99)), ms(connect.max), sent, expected, acked,
               refused ? fmt::format(", refused {}", refused) : std::string(), received,
               fanout() > 1 ? fmt::format(" (of {} deliveries: each message to {} subscribers)",
                                          sent * fanout(), fanout())
                            : std::string(),
               lost, duplicates, reordered, rate, asked_rate, duration_s, ms(latency.pct(.5)),
               ms(latency.pct(.9)), ms(latency.pct(.99)), ms(latency.pct(.999)), ms(latency.max), latency.n) +
           (warmup.n
                ? fmt::format("first message of each device (warm-up, apart from the above): p50 {}  max {}  "
                              "({} samples)\n",
                              ms(warmup.pct(.5)), ms(warmup.max), warmup.n)
                : std::string()) +
           subscribers_text() +
           (peak_rss_kb
                ? fmt::format("memory: peak RSS {:.1f} MiB; {:.1f} KiB per connection (resident with every "
                              "connection up, above the {:.1f} MiB before the first)\n",
                              static_cast<double>(peak_rss_kb) / 1024,
                              static_cast<double>(held_rss_kb - std::min(base_rss_kb, held_rss_kb)) /
                                  static_cast<double>(std::max<uint64_t>(1, connect_ok + per_sub.size())),
                              static_cast<double>(base_rss_kb) / 1024)
                : std::string());
}

std::string Summary::subscribers_text() const {
    if (per_sub.size() <= 1 && shared.empty()) return "";
    uint64_t lo = UINT64_MAX, hi = 0;
    int64_t p99_lo = INT64_MAX, p99_hi = 0;
    for (auto& p : per_sub) {
        lo = std::min(lo, p.received), hi = std::max(hi, p.received);
        p99_lo = std::min(p99_lo, p.latency.pct(.99)), p99_hi = std::max(p99_hi, p.latency.pct(.99));
    }
    auto ms = [](int64_t us) { return fmt::format("{:.2f}", static_cast<double>(us) / 1000); };
    return fmt::format("subscribers: {} {}; received per subscriber {}..{}, p99 {}..{} ms\n", per_sub.size(),
                       shared.empty() ? "(fan-out: each gets every message)"
                                      : "in shared group '" + shared + "' (each message to one of them)",
                       lo, hi, ms(p99_lo), ms(p99_hi));
}

/// --fail-if 'p99>50ms', 'loss>0', 'rate<1900', 'connect_failed>0'
Expected<bool> check(const Summary& s, const std::string& expr, std::string& why) {
    size_t op = expr.find_first_of("<>=");
    if (op == std::string::npos || op == 0)
        return fail(Exit::usage,
                    fmt::format("--fail-if '{}': expected METRIC OP VALUE, like p99>50ms", expr));
    std::string metric = expr.substr(0, op), o, val;
    size_t v = op;
    while (v < expr.size() && (expr[v] == '<' || expr[v] == '>' || expr[v] == '='))
        o += expr[v++];
    val = expr.substr(v);
    double have;
    bool time = false;
    if (metric == "p50")
        have = static_cast<double>(s.latency.pct(.5)), time = true;
    else if (metric == "p90")
        have = static_cast<double>(s.latency.pct(.9)), time = true;
    else if (metric == "p99")
        have = static_cast<double>(s.latency.pct(.99)), time = true;
    else if (metric == "p999")
        have = static_cast<double>(s.latency.pct(.999)), time = true;
    else if (metric == "max")
        have = static_cast<double>(s.latency.max), time = true;
    else if (metric == "loss")
        have = static_cast<double>(s.lost);
    else if (metric == "duplicates")
        have = static_cast<double>(s.duplicates);
    else if (metric == "reordered")
        have = static_cast<double>(s.reordered);
    else if (metric == "connect_failed")
        have = static_cast<double>(s.connect_failed);
    else if (metric == "refused")
        have = static_cast<double>(s.refused);
    else if (metric == "rate")
        have = s.rate;
    else
        return fail(Exit::usage, fmt::format("--fail-if '{}': unknown metric '{}' (p50 p90 p99 p999 max loss "
                                             "duplicates reordered connect_failed refused rate)",
                                             expr, metric));
    double want;
    if (time) {
        auto d = parse_duration(val);
        if (!d)
            return fail(Exit::usage, fmt::format("--fail-if '{}': '{}' is not a duration (50ms)", expr, val));
        want = static_cast<double>(d->count());
    } else {
        char* end = nullptr;
        want = std::strtod(val.c_str(), &end);
        if (val.empty() || *end)
            return fail(Exit::usage, fmt::format("--fail-if '{}': '{}' is not a number", expr, val));
    }
    bool hit = o == ">"                ? have > want
               : o == ">="             ? have >= want
               : o == "<"              ? have < want
               : o == "<="             ? have <= want
               : o == "=" || o == "==" ? have == want
                                       : false;
    if (o != ">" && o != ">=" && o != "<" && o != "<=" && o != "=" && o != "==")
        return fail(Exit::usage, fmt::format("--fail-if '{}': operator '{}' is not > >= < <= =", expr, o));
    if (hit)
        why = fmt::format("{} ({} is {})", expr, metric,
                          time ? fmt::format("{} µs", have) : fmt::format("{}", have));
    return hit;
}

Exit finish_summary(const LoadgenArgs& a, const Summary& s) {
    std::fputs(s.text().c_str(), stdout);
    std::fflush(stdout);
    if (a.common.stats) log::write("", "stats: " + s.json());
    ReportInfo info;
    bool failed = false;
    std::vector<JunitCase> cases;
    for (auto& e : a.fail_if) {
        std::string why;
        auto hit = check(s, e, why);
        if (!hit) {
            log::error("{}", hit.error().message);
            return Exit::usage;
        }
        if (*hit) log::error("--fail-if: {}", why), failed = true;
        cases.push_back({"--fail-if " + e, 0, *hit ? "gate" : "", *hit ? "--fail-if: " + why : ""});
        info.gates.push_back({e, *hit, why});
    }
    if (!a.report.empty()) {
        auto& p = info.params;
        if (!a.merge.empty()) {
            p.push_back({"merged", fmt::format("{}", fmt::join(a.merge, ", "))});
        } else {
            p.push_back({"broker", a.mqtt.broker.empty() ? "mqtt://localhost:1883" : a.mqtt.broker});
            p.push_back({"devices", fmt::format("{}", a.devices)});
            p.push_back({"rate", a.total_rate > 0 ? fmt::format("{} msg/s in total", a.total_rate)
                                                  : fmt::format("{} msg/s per device", a.rate)});
            p.push_back({a.count ? "count" : "duration",
                         a.count ? fmt::format("{} per device", a.count) : a.duration});
            p.push_back({"qos", fmt::format("{}{}", a.qos, a.retain ? ", retained" : "")});
            p.push_back({"topic", a.topic.empty() ? "loadgen/{dev}" : a.topic});
            p.push_back({"payload", a.payload_file.empty() ? a.payload : "records of " + a.payload_file});
            p.push_back({"MQTT version", a.mqtt.version.empty() ? "3.1.1" : a.mqtt.version});
            p.push_back({"connect rate", fmt::format("{}/s", a.connect_rate)});
            if (!a.shard.empty()) p.push_back({"shard", a.shard});
            p.push_back({"subscribers",
                         a.no_sub            ? "none (--no-sub)"
                         : !a.shared.empty() ? fmt::format("{} in shared group '{}'", a.subscribers, a.shared)
                         : a.subscribers > 1 ? fmt::format("{}, each on every device topic", a.subscribers)
                                             : "one, on every device topic"});
            if (!a.source.empty()) p.push_back({"source addresses", a.source});
            p.push_back({"drain", a.drain});
        }
        std::ofstream f(a.report);
        f << report_html(s, info);
        if (!f) log::error("cannot write --report {}", a.report);
    }
    if (!a.json.empty()) {
        std::ofstream f(a.json);
        f << s.json() << "\n";
        if (!f) log::error("cannot write --json {}", a.json);
    }
    if (!a.metrics.empty()) {
        std::ofstream f(a.metrics);
        f << openmetrics(s);
        if (!f) log::error("cannot write --metrics {}", a.metrics);
    }
    if (!a.junit.empty())
        if (auto st = write_junit(a.junit, "loadgen " + a.mqtt.broker, cases, 0); !st)
            log::error("{}", st.error().message);
    return failed ? Exit::wrong_answer : Exit::ok; // the broker answered, but not as the gates demand
}
} // namespace loadgen

using namespace loadgen;

Expected<Exit> run_loadgen_merge(const LoadgenArgs& a) {
    if (a.merge.empty()) return fail(Exit::usage, "loadgen merge A.json B.json ...");
    Summary s;
    simdjson::dom::parser parser;
    std::vector<std::string> shards;
    for (auto& f : a.merge) {
        simdjson::dom::element e;
        if (auto err = parser.load(f).get(e); err)
            return fail(Exit::bad_data, fmt::format("{}: {}", f, simdjson::error_message(err)));
        // every key a summary has must be there with its type: a merge that guessed 0 for a
        // missing one would pass a gate it should fail
        std::string bad;
        auto miss = [&](std::string_view key, const char* want) {
            if (bad.empty()) bad = fmt::format("{}: key '{}' is missing or not {}", f, key, want);
        };
        auto u_at = [&](simdjson::dom::element at, std::string_view key) {
            uint64_t v = 0;
            if (at.at_pointer(key).get_uint64().get(v)) miss(key.substr(1), "a non-negative integer");
            return v;
        };
        auto u = [&](const char* k) { return u_at(e, std::string("/") + k); };
        auto d = [&](const char* k) {
            double v = 0;
            if (e[k].get_double().get(v)) miss(k, "a number");
            return v;
        };
        s.devices += static_cast<int>(u("devices"));
        s.qos = static_cast<int>(u("qos"));
        s.subscribers = static_cast<int>(u("subscribers")); // each shard runs its own, counting its devices
        s.peak_rss_kb += u("peak_rss_kb");
        s.base_rss_kb += u("base_rss_kb");
        s.held_rss_kb += u("held_rss_kb");
        std::string_view group;
        if (e["shared"].get_string().get(group)) miss("shared", "a string");
        s.shared = std::string(group);
        s.expected += u("expected"), s.sent += u("sent"), s.acked += u("acked"), s.received += u("received");
        s.refused += u("refused");
        s.lost += u("lost"), s.duplicates += u("duplicates"), s.reordered += u("reordered");
        s.asked_rate += d("asked_rate"), s.rate += d("rate"),
            s.duration_s = std::max(s.duration_s, d("duration_s"));
        double cs = 0;
        if (!e["connects"]["seconds"].get_double().get(cs)) s.connect_s = std::max(s.connect_s, cs);
        std::string_view sh;
        if (!e["shard"].get_string().get(sh) && !sh.empty()) shards.emplace_back(sh);
        s.connect_ok += u_at(e, "/connects/ok");
        s.connect_failed += u_at(e, "/connects/failed");
        auto merge_hist = [&](Hist& h, std::string_view key) {
            simdjson::dom::element src;
            int64_t mx = 0;
            simdjson::dom::array buckets;
            if (e.at_pointer(key).get(src) || src["max"].get_int64().get(mx) ||
                src["buckets"].get_array().get(buckets))
                return miss(key.substr(1), "a histogram (max, buckets)");
            for (auto b : buckets) {
                int64_t lo = 0;
                uint64_t c = 0;
                simdjson::dom::array pair;
                if (b.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_int64().get(lo) ||
                    pair.at(1).get_uint64().get(c) || lo < 0)
                    return miss(fmt::format("{}/buckets", key.substr(1)), "a list of [lower bound, count]");
                h.b[Hist::index(lo)] += c;
                h.n += c;
            }
            h.max = std::max(h.max, mx);
        };
        auto add_list = [&](std::vector<uint64_t>& to, const char* key) {
            simdjson::dom::array arr;
            if (e[key].get_array().get(arr)) return miss(key, "a list of counts");
            size_t i = 0;
            for (auto x : arr) {
                uint64_t c = 0;
                if (x.get_uint64().get(c)) return miss(key, "a list of counts");
                if (i >= to.size()) to.resize(i + 1);
                to[i++] += c;
            }
        };
        add_list(s.sent_per_s, "sent_per_s");
        add_list(s.recv_per_s, "received_per_s");
        merge_hist(s.latency, "/latency_us");
        merge_hist(s.warmup, "/warmup_us");
        simdjson::dom::array subs;
        if (e["per_subscriber"].get_array().get(subs)) {
            miss("per_subscriber", "a list");
        } else {
            // the k-th subscriber of every shard, added up: what one subscriber saw of all devices
            size_t k = 0;
            for (auto x : subs) {
                if (k >= s.per_sub.size()) s.per_sub.resize(k + 1);
                auto& to = s.per_sub[k];
                std::string at = fmt::format("/per_subscriber/{}", k++);
                to.received += u_at(e, at + "/received");
                to.unique += u_at(e, at + "/unique");
                to.duplicates += u_at(e, at + "/duplicates");
                Hist h;
                merge_hist(h, at + "/latency_us");
                for (auto& [i, c] : h.b)
                    to.latency.b[i] += c;
                to.latency.n += h.n;
                to.latency.max = std::max(to.latency.max, h.max);
                (void)x;
            }
        }
        merge_hist(s.connect, "/connects/latency_us");
        if (!bad.empty()) return fail(Exit::bad_data, bad);
    }
    s.shard = shards.empty() ? "" : fmt::format("{} merged", shards.size());
    return finish_summary(a, s);
}

} // namespace m2m
