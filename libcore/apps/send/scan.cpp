// m2m-send --scan: which Modbus units answer on a bus. Each unit in the range gets one read (holding
// register 0) and --reply-timeout to answer; any answer -- a response, an exception, even a frame with
// a bad CRC -- means a device is there (a gateway's exceptions 10 and 11 say it is not).
#include "apps/send/send.hpp"
#include "framing/framing.hpp"
#include "links/uri.hpp"
#include "loop/event_loop.hpp"
#include "modbus/modbus.hpp"
#include "output/printer.hpp"
#include "records/record.hpp"
#include "runtime/link_session.hpp"
#include "stats/stats.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <charconv>
#include <fmt/format.h>
#include <unistd.h>

namespace m2m {

Expected<std::vector<int>> parse_unit_range(std::string_view spec) {
    std::vector<int> out;
    const std::string whole(spec);
    auto bad = [&] {
        return fail(
            Exit::usage,
            fmt::format("--scan '{}': expected unit ids from 1 to 247, like 1-247 or 1,5,9-12", whole));
    };
    while (!spec.empty()) {
        auto comma = spec.find(',');
        std::string_view part = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        auto dash = part.find('-');
        int lo = 0, hi = 0;
        auto num = [](std::string_view t, int& v) {
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            return ec == std::errc() && p == t.data() + t.size();
        };
        if (!num(part.substr(0, dash), lo) ||
            !num(dash == std::string_view::npos ? part : part.substr(dash + 1), hi) || lo < 1 || hi > 247 ||
            lo > hi)
            return bad();
        for (int u = lo; u <= hi; ++u)
            out.push_back(u);
    }
    if (out.empty()) return bad();
    return out;
}

namespace {

class Scanner {
  public:
    Scanner(EventLoop& loop, LinkSession& link, const Framing& framing, std::vector<int> units,
            int64_t timeout_us, bool table)
        : loop_(loop), link_(link), decoder_(framing.decoder()), encoder_(framing.encoder()),
          units_(std::move(units)), timeout_us_(timeout_us), table_(table),
          printer_(STDOUT_FILENO, resolve_printer(STDOUT_FILENO, "jsonl", "iso", "never")) {}

    std::vector<std::pair<int, std::string>> found;

    void start() {
        link_.on_data = [this](std::string_view bytes) {
            Frames frames;
            decoder_->feed(bytes, mono_us(), frames);
            for (auto& f : frames)
                frame(f);
        };
        link_.on_writable = [this] { write(); };
        if (table_) fmt::print("unit  answer\n");
        next();
    }

  private:
    void next() {
        if (at_ == units_.size()) return loop_.stop(Exit::ok);
        unit_ = units_[at_++];
        std::string adu = modbus::read_request(unit_, 3, 0, 1);
        out_.clear();
        if (auto st = encoder_->encode(adu, out_); !st) return loop_.fail(Exit::runtime, st.error().message);
        decoder_->sent(adu);
        write();
        timer_ = loop_.at(mono_us() + timeout_us_, [this] {
            timer_ = -1;
            Frames rest; // half a frame: a device that answered with noise is still there
            decoder_->finish(rest);
            for (auto& f : rest)
                frame(f);
            if (timer_ == -1 && waiting()) done();
        });
    }

    bool waiting() const { return unit_ > 0; }

    void write() {
        while (!out_.empty() && link_.up()) {
            size_t n = link_.write(out_);
            if (n == 0) break;
            out_.erase(0, n);
        }
        link_.want_write(!out_.empty());
    }

    void frame(Frame& f) {
        if (!waiting()) return;
        std::string_view a = f.bytes;
        if (!f.err.empty() && a.empty()) return;
        if (f.err.empty() && (a.empty() || static_cast<unsigned char>(a[0]) != unit_))
            return; // not its answer
        std::string answer;
        if (!f.err.empty()) {
            answer = f.err;
        } else if (a.size() >= 3 && (static_cast<unsigned char>(a[1]) & 0x80)) {
            int code = static_cast<unsigned char>(a[2]);
            if (code == 10 || code == 11) return done(); // a gateway says nobody is there
            answer = fmt::format("exception {} ({})", code, modbus::exception_name(code));
        } else {
            answer = "response";
        }
        Record r;
        r.ts = format_rfc3339(wall_us());
        r.src = link_.link().name();
        r.dir = "rx";
        set_payload(r, std::string(a), PayloadStyle::hex);
        r.extra.push_back({"unit", std::to_string(unit_)});
        std::string aj;
        append_json_string(aj, answer);
        r.extra.push_back({"answer", aj});
        if (!f.view.empty()) r.extra.push_back({f.view_key, f.view});
        if (table_)
            fmt::print("{:>4}  {}\n", unit_, answer);
        else
            printer_.print(r, wall_us()), printer_.flush();
        found.emplace_back(unit_, answer);
        done();
    }

    void done() {
        if (timer_ >= 0) loop_.cancel(timer_), timer_ = -1;
        unit_ = 0;
        Frames rest;
        decoder_->finish(rest);
        // the line is quiet a moment before the next unit is asked (3.5 characters and then some)
        loop_.at(mono_us() + 5000, [this] { next(); });
    }

    EventLoop& loop_;
    LinkSession& link_;
    std::unique_ptr<Decoder> decoder_;
    std::unique_ptr<Encoder> encoder_;
    std::vector<int> units_;
    int64_t timeout_us_;
    bool table_;
    Printer printer_;
    size_t at_ = 0;
    int unit_ = 0;
    int timer_ = -1;
    std::string out_;
};

} // namespace

Expected<Exit> run_scan(const SendArgs& a) {
    auto units = parse_unit_range(a.scan);
    if (!units) return std::unexpected(units.error());
    auto framing =
        make_framing(a.framing.framing, {.max_frame = a.framing.max_frame, .expect = Expect::responses});
    if (!framing) return std::unexpected(framing.error());
    if (framing->view_key != "modbus")
        return fail(Exit::usage, "--scan asks Modbus units: use --framing modbus-rtu or modbus-tcp");
    auto timeout = parse_duration(a.reply_timeout);
    if (!timeout) return std::unexpected(timeout.error());
    auto uri = parse_uri(a.link.uri);
    if (!uri) return std::unexpected(uri.error());
    auto link = open_link(*uri, LinkRole::both);
    if (!link) return std::unexpected(link.error());
    EventLoop loop;
    RunStats stats;
    LinkSession session(loop, std::move(*link), !a.link.no_reconnect, stats);
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    std::string format = a.output.format;
    bool table = format == "human" || (format == "auto" && ::isatty(STDOUT_FILENO));
    Scanner scan(loop, session, *framing, *units, timeout->count(), table);
    scan.start();
    Exit code = loop.run();
    if (code != Exit::ok) return loop.result();
    std::string list;
    for (auto& [u, answer] : scan.found)
        list += (list.empty() ? "" : ", ") + std::to_string(u);
    log::note("scan: {} of {} unit(s) answered{}{}", scan.found.size(), units->size(),
              list.empty() ? "" : ": ", list);
    if (scan.found.empty())
        return fail(Exit::timeout, fmt::format("no unit answered within {}", a.reply_timeout));
    return Exit::ok;
}

} // namespace m2m
