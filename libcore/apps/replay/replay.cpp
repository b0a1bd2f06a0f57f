#include "apps/replay/replay.hpp"
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

namespace {

struct Item {
    int64_t ts = 0;      // recorded time, epoch µs (0 when unknown)
    std::string line;    // the record (or raw line) as it was
    std::string payload; // what a link target gets
    std::string dir;     // tx / rx (serve)
    std::string match;   // serve: a hex pattern, ".." or "??" for any byte
    Record rec;
};

bool is_target(const std::string& s) {
    return s == "-" || s.find("://") != std::string::npos || s.rfind("serial:", 0) == 0 ||
           s.rfind("pty:", 0) == 0 || s.rfind("file:", 0) == 0;
}

/// Every record of the recordings. A bad or overlong line is named (file:line), counted in
/// `bad` and skipped (a recording whose last line was cut by a killed recorder still replays);
/// --strict makes the first one fatal (exit 3).
Expected<std::vector<Item>> load(const ReplayArgs& a, const std::vector<std::string>& files, uint64_t& bad) {
    std::vector<Item> items;
    RecordParser parser;
    for (auto& f : files) {
        int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(Exit::unavailable, fmt::format("cannot read '{}': {}", f, std::strerror(errno)));
        std::optional<Error> fatal;
        auto reject = [&](uint64_t no, const std::string& why) {
            ++bad;
            if (a.common.strict) {
                fatal = Error{Exit::bad_data, fmt::format("{}:{}: {}", f, no, why)};
                return false;
            }
            log::warn("{}:{}: {}; skipped (counted as bad_records)", f, no, why);
            return true;
        };
        bool read = for_each_line(
            fd, a.max_line, [&](uint64_t no, const std::string& why) { reject(no, why); },
            [&](std::string& line, uint64_t no) {
                if (fatal) return false;
                if (line.empty()) return true;
                Item it;
                if (a.raw) {
                    it.payload = line;
                    if (a.ts_column > 0) {
                        size_t start = 0;
                        for (int c = 1; c < a.ts_column && start != std::string::npos; ++c) {
                            start = line.find(',', start);
                            if (start != std::string::npos) ++start;
                        }
                        if (start == std::string::npos)
                            return reject(no, fmt::format("no column {}", a.ts_column));
                        std::string cell = line.substr(start, line.find(',', start) - start);
                        if (auto t = parse_rfc3339(cell)) {
                            it.ts = *t;
                        } else {
                            char* end = nullptr;
                            double secs = std::strtod(cell.c_str(), &end);
                            if (cell.empty() || *end || !std::isfinite(secs))
                                return reject(
                                    no, fmt::format("column {} ('{}') is not a time", a.ts_column, cell));
                            it.ts = static_cast<int64_t>(std::llround(secs * 1e6));
                        }
                    }
                } else {
                    if (auto st = parser.parse(line, it.rec); !st) return reject(no, st.error().message);
                    if (!it.rec.ts.empty()) {
                        auto t = parse_rfc3339(it.rec.ts);
                        if (!t) return reject(no, fmt::format("ts '{}' is not an RFC 3339 time", it.rec.ts));
                        it.ts = *t;
                    }
                    it.dir = it.rec.dir;
                    if (it.rec.kind != PayloadKind::none) it.payload = it.rec.payload_bytes();
                    for (auto& e : it.rec.extra)
                        if (e.key == "match" && e.raw_value.size() >= 2 && e.raw_value[0] == '"')
                            it.match = e.raw_value.substr(1, e.raw_value.size() - 2);
                }
                it.line = std::move(line);
                items.push_back(std::move(it));
                return !fatal;
            });
        int err = errno;
        ::close(fd);
        if (fatal) return std::unexpected(*fatal);
        if (!read) return fail(Exit::unavailable, fmt::format("cannot read '{}': {}", f, std::strerror(err)));
    }
    return items;
}

/// A window bound: an offset from the start (DUR) or an absolute RFC 3339 time.
Expected<int64_t> bound(const std::string& s, int64_t start, const char* name) {
    if (auto t = parse_rfc3339(s)) return *t;
    auto d = parse_duration(s);
    if (!d)
        return fail(Exit::usage,
                    fmt::format("--{} '{}': a duration from the start (90s) or an RFC 3339 time", name, s));
    return start + d->count();
}

bool matches(const Item& tx, std::string_view got) {
    if (tx.match.empty()) return tx.payload == got;
    const std::string& p = tx.match;
    if (p.size() != got.size() * 2) return false;
    for (size_t i = 0; i < got.size(); ++i) {
        std::string_view pair(p.data() + 2 * i, 2);
        if (pair == ".." || pair == "??") continue;
        auto b = decode_hex(pair);
        if (!b || (*b)[0] != got[i]) return false;
    }
    return true;
}

/// --serve: a simulated device. Each frame that matches a recorded tx frame is answered with
/// the rx frames recorded after it.
Expected<Exit> serve(const ReplayArgs& a, std::vector<Item> items, const std::string& target, uint64_t bad) {
    auto uri = parse_uri(target);
    if (!uri) return std::unexpected(uri.error());
    auto framing =
        make_framing(a.framing.framing, {.max_frame = a.framing.max_frame, .expect = Expect::requests});
    if (!framing) return std::unexpected(framing.error());
    size_t tx = 0;
    for (auto& it : items) {
        if (it.dir != "tx" && it.dir != "rx")
            return fail(Exit::bad_data,
                        "--serve needs a capture whose records have dir tx (requests) and rx (replies)");
        tx += it.dir == "tx";
    }
    if (!tx) return fail(Exit::bad_data, "--serve: the capture has no tx (request) records");
    auto link = open_link(*uri, LinkRole::both);
    if (!link) return std::unexpected(link.error());
    EventLoop loop;
    RunStats stats;
    stats.bad_records = bad;
    LinkSession session(loop, std::move(*link), true, stats);
    auto decoder = framing->decoder();
    auto encoder = framing->encoder();
    std::vector<Frame> frames;
    std::string out;
    uint64_t answered = 0, unmatched = 0;
    auto flush = [&] {
        while (!out.empty() && session.up()) {
            size_t n = session.write(out);
            if (!n) break;
            out.erase(0, n);
        }
        session.want_write(!out.empty());
    };
    auto handle = [&] {
        for (auto& f : frames) {
            ++stats.frames_in;
            size_t i = 0;
            while (i < items.size() && !(items[i].dir == "tx" && matches(items[i], f.bytes)))
                ++i;
            if (i == items.size()) {
                ++unmatched;
                log::warn("unmatched request {} ({} so far)", to_hex(f.bytes), unmatched);
                continue;
            }
            ++answered;
            for (size_t j = i + 1; j < items.size() && items[j].dir == "rx"; ++j) {
                if (auto st = encoder->encode(items[j].payload, out); !st)
                    log::warn("capture record {}: {}", j + 1, st.error().message);
                else
                    ++stats.frames_out;
            }
        }
        frames.clear();
        flush();
    };
    session.on_writable = flush;
    int tick = -1;
    session.on_data = [&](std::string_view b) {
        decoder->feed(b, mono_us(), frames);
        handle();
        if (tick >= 0) loop.cancel(tick), tick = -1;
        if (int64_t at = decoder->deadline(); at >= 0)
            tick = loop.at(at, [&] {
                tick = -1;
                decoder->tick(mono_us(), frames);
                handle();
            });
    };
    session.on_lost = [&] { decoder = framing->decoder(); };
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    log::info("serving {} request(s) from the capture on {}", tx, session.link().name());
    Exit code = loop.run();
    if (a.common.stats) {
        std::string s = stats.to_json();
        s.pop_back();
        log::write("", fmt::format("stats: {},\"answered\":{},\"unmatched\":{}}}", s, answered, unmatched));
    }
    return code;
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
    if (files.size() >= 2 && is_target(files.back())) target = files.back(), files.pop_back();
    if (files.empty()) return fail(Exit::usage, "replay needs a recording: replay FILE... [TARGET]");
    auto set_fields = parse_set_fields(a.set);
    if (!set_fields) return std::unexpected(set_fields.error());
    const std::vector<ExtraField>& set = *set_fields;
    if (!set.empty() && a.raw)
        return fail(Exit::usage, "--set adds fields to records; --raw lines have none");
    uint64_t bad = 0;
    auto items = load(a, files, bad);
    if (!items) return std::unexpected(items.error());
    if (items->empty() && bad)
        return fail(Exit::bad_data,
                    fmt::format("no valid record in {} ({} bad line(s))", fmt::join(files, ", "), bad));
    if (a.serve) {
        if (target.empty() || target == "-")
            return fail(Exit::usage, "--serve CAPTURE LINK: give the link to serve on (pty:/tmp/dev)");
        return serve(a, std::move(*items), target, bad);
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
