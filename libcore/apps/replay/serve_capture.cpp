// replay --serve: a capture served as a simulated device.
#include "apps/replay/recording.hpp"
#include "framing/framing.hpp"
#include "links/link.hpp"
#include "links/uri.hpp"
#include "loop/event_loop.hpp"
#include "runtime/link_session.hpp"
#include "stats/stats.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace m2m::replay {

namespace {

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

} // namespace

/// --serve: a simulated device. Each frame that matches a recorded tx frame is answered with
/// the rx frames recorded after it.
Expected<Exit> serve_capture(const ReplayArgs& a, std::vector<Item> items, const std::string& target,
                             uint64_t bad) {
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
    Frames frames;
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

} // namespace m2m::replay
