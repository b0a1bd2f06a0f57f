#include "apps/replay/replay.hpp"
#include "apps/replay/recording.hpp"
#include "framing/framing.hpp"
#include "links/uri.hpp"
#include "output/printer.hpp"
#include "records/parser.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/line_input.hpp"
#include "runtime/link_session.hpp"
#include "stats/histogram.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fmt/ranges.h>
#include <fstream>
#include <random>
#include <unistd.h>

namespace m2m {

using replay::Item;

namespace {

/// A window bound: an offset from the start (DUR) or an absolute RFC 3339 time.
Expected<int64_t> bound(const std::string& s, int64_t start, const char* name) {
    if (auto t = parse_rfc3339(s)) return *t;
    auto d = parse_duration(s);
    if (!d)
        return fail(Exit::usage,
                    fmt::format("--{} '{}': a duration from the start (90s) or an RFC 3339 time", name, s));
    return start + d->count();
}

} // namespace

Expected<Exit> run_replay(const ReplayArgs& a) {
    if (!a.serve_map.empty()) {
        if (a.args.size() != 1 || a.serve)
            return fail(Exit::usage, "replay --serve-map MAP LINK: give one link to serve on (pty:/tmp/dev)");
        return serve_map(a, a.args[0]);
    }
    std::vector<std::string> files = a.args;
    std::string target;
    if (files.size() >= 2 && replay::is_target(files.back())) target = files.back(), files.pop_back();
    if (files.empty()) return fail(Exit::usage, "replay needs a recording: replay FILE... [TARGET]");
    auto set_fields = parse_set_fields(a.set);
    if (!set_fields) return std::unexpected(set_fields.error());
    const std::vector<ExtraField>& set = *set_fields;
    if (!set.empty() && a.raw)
        return fail(Exit::usage, "--set adds fields to records; --raw lines have none");
    uint64_t bad = 0;
    auto items = replay::load(a, files, bad);
    if (!items) return std::unexpected(items.error());
    if (items->empty() && bad)
        return fail(Exit::bad_data,
                    fmt::format("no valid record in {} ({} bad line(s))", fmt::join(files, ", "), bad));
    if (a.serve) {
        if (target.empty() || target == "-")
            return fail(Exit::usage, "--serve CAPTURE LINK: give the link to serve on (pty:/tmp/dev)");
        return replay::serve_capture(a, std::move(*items), target, bad);
    }
    auto& v = *items;
    // rate or timing
    double rate = 0;
    if (!a.rate.empty()) {
        std::string r = a.rate;
        if (r.ends_with("/s")) r.resize(r.size() - 2);
        char* end = nullptr;
        rate = std::strtod(r.c_str(), &end);
        if (r.empty() || *end || rate <= 0)
            return fail(Exit::usage, fmt::format("bad --rate '{}': use N or N/s", a.rate));
    }
    if (a.speed < 0) return fail(Exit::usage, "--speed must be 0 (as fast as possible) or more");
    if (rate == 0 && a.speed > 0)
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i].ts == 0)
                return fail(
                    Exit::bad_data,
                    fmt::format("record {} has no ts: give --rate, or --ts-column with --raw", i + 1));
    // window
    if (!v.empty() && (!a.from.empty() || !a.to.empty())) {
        int64_t start = v.front().ts;
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        if (!a.from.empty()) {
            auto b = bound(a.from, start, "from");
            if (!b) return std::unexpected(b.error());
            lo = *b;
        }
        if (!a.to.empty()) {
            auto b = bound(a.to, start, "to");
            if (!b) return std::unexpected(b.error());
            hi = *b;
        }
        std::erase_if(v, [&](const Item& it) { return it.ts < lo || it.ts >= hi; });
    }
    uint64_t loops = 1;
    if (a.loop == "inf")
        loops = UINT64_MAX;
    else {
        char* end = nullptr;
        loops = std::strtoull(a.loop.c_str(), &end, 10);
        if (a.loop.empty() || *end || loops == 0)
            return fail(Exit::usage, fmt::format("bad --loop '{}': N (1 or more) or inf", a.loop));
    }
    int64_t jitter = 0;
    if (!a.jitter.empty()) {
        auto d = parse_duration(a.jitter);
        if (!d) return std::unexpected(d.error());
        jitter = d->count();
    }
    // where to
    EventLoop loop;
    RunStats stats;
    stats.bad_records = bad;
    // after the loop and the stats, so destroyed before them
    std::unique_ptr<Encoder> encoder;
    std::unique_ptr<LinkSession> session;
    std::unique_ptr<LineSink> sink;
    if (target.starts_with("mqtt://") || target.starts_with("mqtts://") || target.starts_with("ws://") ||
        target.starts_with("wss://")) {
        if (!a.broker)
            return fail(Exit::usage, fmt::format("this build cannot publish: pipe into iot-pub (replay {} | "
                                                 "iot-pub {})",
                                                 files.front(), target));
        auto s = a.broker(target, loop, stats);
        if (!s) return std::unexpected(s.error());
        sink = std::move(*s);
        if (auto st = sink->start(); !st) return std::unexpected(st.error());
    } else if (!target.empty() && target != "-") {
        auto uri = parse_uri(target);
        if (!uri) return std::unexpected(uri.error());
        auto framing = make_framing(a.framing.framing, {.max_frame = a.framing.max_frame});
        if (!framing) return std::unexpected(framing.error());
        encoder = framing->encoder();
        auto link = open_link(*uri, uri->scheme == "file" ? LinkRole::write : LinkRole::both);
        if (!link) return std::unexpected(link.error());
        session = std::make_unique<LinkSession>(loop, std::move(*link), true, stats, false);
        if (auto st = session->start(); !st) return std::unexpected(st.error());
        for (auto& it : v)
            if (it.payload.empty() && !a.raw && it.rec.kind == PayloadKind::none)
                return fail(Exit::bad_data, "a record without a payload cannot go to a link");
    }
    if (v.empty()) return Exit::ok;
    std::optional<Printer> view; // stdout shown other than as the records themselves
    if (!sink && !session) {
        auto opts = resolve_printer(STDOUT_FILENO, a.view.format, a.view.ts, a.view.color);
        if (opts.format != OutputFormat::jsonl) view.emplace(STDOUT_FILENO, opts);
    }
    int log_fd = -1; // --log: every record replayed, as JSON Lines
    std::string log_buf;
    if (!a.view.log.empty()) {
        log_fd = ::open(a.view.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
            return fail(Exit::usage,
                        fmt::format("--log {}: cannot write it: {}", a.view.log, std::strerror(errno)));
    }
    struct LogCloser {
        int& fd;
        std::string& buf;
        ~LogCloser() {
            if (fd < 0) return;
            (void)!::write(fd, buf.data(), buf.size());
            ::close(fd);
        }
    } log_closer{log_fd, log_buf};
    auto log_item = [&](const Item& it) {
        if (log_fd < 0) return;
        if (a.raw) {
            Record r;
            r.ts = format_rfc3339(wall_us());
            set_payload(r, it.line, PayloadStyle::auto_);
            append_jsonl(log_buf, r);
        } else {
            append_jsonl(log_buf, it.rec);
        }
        if (log_buf.size() >= (1 << 16)) {
            if (::write(log_fd, log_buf.data(), log_buf.size()) < 0)
                log::warn("--log {}: {}", a.view.log, std::strerror(errno));
            log_buf.clear();
        }
    };

    int64_t first = v.front().ts, span = v.back().ts - first;
    int64_t period = v.size() > 1 ? span + span / static_cast<int64_t>(v.size() - 1) : 1000000;
    std::mt19937_64 rng(std::random_device{}());
    Hist late; // bounded, however long --loop runs
    std::string out;
    int64_t base = mono_us() + 1000, last_due = 0;
    size_t i = 0;
    uint64_t k = 0, n_total = 0;
    bool done = false, waiting = false, ended = false; // waiting: the broker sink's buffer is full
    bool finishing = false;

    auto write_out = [&] {
        if (sink) {
            if (done && !ended) sink->end(), ended = true; // the sink stops the loop when all is acked
            return;
        }
        if (session) {
            while (!out.empty() && session->up()) {
                size_t n = session->write(out);
                if (!n) break;
                out.erase(0, n);
            }
            session->want_write(!out.empty());
        } else {
            while (!out.empty()) {
                ssize_t n = ::write(STDOUT_FILENO, out.data(), out.size());
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) { // a closed pipe ends the replay, as for the other tools
                    loop.stop(Exit::ok);
                    out.clear();
                    return;
                }
                out.erase(0, static_cast<size_t>(n));
            }
        }
        if (done && out.empty()) {
            // a pty's or socket's reader may not have taken (or even opened) it yet: wait, as m2m-send does
            if (session && !finishing) {
                finishing = true;
                session->when_taken([&] { loop.stop(Exit::ok); });
            } else if (!session) {
                loop.stop(Exit::ok);
            }
        }
    };
    auto due_of = [&](size_t idx, uint64_t lap) -> int64_t {
        int64_t d;
        if (rate > 0)
            d = base + static_cast<int64_t>((static_cast<double>(lap * v.size() + idx)) * 1e6 / rate);
        else if (a.speed == 0)
            d = 0;
        else
            d = base +
                static_cast<int64_t>(
                    static_cast<double>(v[idx].ts - first + static_cast<int64_t>(lap) * period) / a.speed);
        if (jitter && d) d += std::uniform_int_distribution<int64_t>(-jitter, jitter)(rng);
        d = std::max(d, last_due); // jitter never reorders
        return d;
    };
    std::function<void()> step = [&] {
        int64_t now = mono_us();
        int burst = 0;
        while (!done) {
            int64_t due = due_of(i, k);
            if (due > now) {
                last_due = due;
                loop.at(due, step);
                break;
            }
            auto& it = v[i];
            if (sink && !sink->room()) { // backpressure: the lateness shows it
                waiting = true;
                sink->on_room = [&] {
                    if (!waiting) return;
                    waiting = false;
                    loop.at(0, step);
                };
                return;
            }
            if (due) late.add(now - due);
            if (sink) {
                if ((a.rebase || !set.empty()) && !a.raw) { // the record is written anew
                    if (a.rebase) it.rec.ts = format_rfc3339(wall_us());
                    apply_set_fields(set, it.rec);
                    std::string line;
                    append_jsonl(line, it.rec);
                    if (!line.empty() && line.back() == '\n') line.pop_back();
                    sink->put(std::move(line));
                } else {
                    sink->put(it.line);
                }
            } else if (session) {
                if (auto st = encoder->encode(
                        a.raw ? std::string_view(it.line) : std::string_view(it.payload), out);
                    !st)
                    log::warn("record {}: {}", i + 1, st.error().message), ++stats.bad_records;
                else
                    ++stats.frames_out;
            } else if (view) { // --format human, hex or raw on stdout
                Record line_rec;
                Record& rec = a.raw ? line_rec : it.rec;
                if (a.raw) set_payload(line_rec, it.line, PayloadStyle::auto_);
                int64_t at = a.rebase || !it.ts ? wall_us() : it.ts;
                if (a.rebase && !a.raw) rec.ts = format_rfc3339(at);
                apply_set_fields(set, rec);
                view->print(rec, at);
                view->take(out);
            } else if ((a.rebase || !set.empty()) && !a.raw) {
                if (a.rebase) it.rec.ts = format_rfc3339(wall_us());
                apply_set_fields(set, it.rec);
                append_jsonl(out, it.rec);
            } else {
                out += it.line;
                out += '\n';
            }
            log_item(it);
            ++stats.records_out;
            ++n_total;
            if (++i == v.size()) {
                i = 0;
                if (++k == loops) done = true;
            }
            if (++burst == 1024 || out.size() > (1 << 16)) {
                write_out();
                if (loop.stopped()) return;
                if (!done && a.speed == 0 && rate == 0) {
                    loop.at(0, step);
                    break;
                }
                burst = 0;
                now = mono_us();
            }
        }
        write_out();
    };
    if (session) session->on_writable = write_out;
    loop.at(base, step);
    Exit code = loop.run();
    if (sink && code != Exit::ok && code != Exit::interrupted && !sink->failure().empty())
        log::error("{}", sink->failure());
    if (a.common.stats) {
        int64_t mx = late.max, p99 = late.pct(.99);
        std::string s = stats.to_json();
        s.pop_back();
        log::write("", fmt::format("stats: {},\"replayed\":{},\"late_max_us\":{},\"late_p99_us\":{}}}", s,
                                   n_total, mx, p99));
    }
    if (sink && (code == Exit::runtime || code == Exit::bad_data) && !sink->failure().empty())
        return fail(code, sink->failure());
    return code;
}

} // namespace m2m
