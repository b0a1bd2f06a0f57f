#include "apps/send/send.hpp"
#include "links/line_control.hpp"
#include "modbus/modbus.hpp"
#include "output/junit.hpp"
#include "records/parser.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/line_input.hpp"
#include "runtime/link_session.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <poll.h>
#include <regex>
#include <simdjson.h>
#include <unistd.h>

namespace m2m {

namespace {

/// A request awaiting its reply: how to name it in a message, and what its reply must show.
struct Request {
    uint64_t line = 0;
    std::string reply_to;                  // raw JSON: the record's seq, else its line number
    std::string name;                      // raw JSON of the record's name; empty when none
    std::optional<std::regex> expect_re;   // "expect": "REGEX" on a text request
    std::string expect_text;               // ... as written
    std::string expect_obj;                // "expect": {...} on a Modbus request (raw JSON)
    std::string title;                     // a JUnit testcase's name: the name field, else the request's text
    std::vector<ExtraField> carry;         // the request's own fields (name, ...), carried into its reply
    std::optional<modbus::ValueSpec> spec; // a typed Modbus read: the reply gets "values" beside "regs"
    std::string label() const {
        if (name.empty()) return fmt::format("line {}", line);
        std::string n = name.size() >= 2 && name.front() == '"' ? name.substr(1, name.size() - 2) : name;
        return fmt::format("line {} ({})", line, n);
    }
};

/// A payload as a message shows it: text quoted (cut at 200 bytes), else hex.
std::string shown(std::string_view bytes) {
    bool text =
        std::all_of(bytes.begin(), bytes.end(), [](unsigned char c) { return c >= 0x20 || c == '\t'; });
    std::string_view cut = bytes.substr(0, 200);
    std::string out = text ? fmt::format("'{}'", cut) : fmt::format("hex {}", to_hex(cut));
    return bytes.size() > 200 ? out + "..." : out;
}

/// The sending side's state: input lines in, frames out, at most one reply awaited at a time.
class Sender {
  public:
    Sender(const SendArgs& a, EventLoop& loop, LinkSession& session, RunStats& stats, FrameRecorder& recorder,
           const Framing& framing, int64_t interval_us, int64_t reply_timeout_us, int64_t reply_gap_us,
           std::optional<std::regex> until)
        : a_(a), loop_(loop), session_(session), stats_(stats), recorder_(recorder),
          encoder_(framing.encoder()), decoder_(framing.decoder()), view_key_(framing.view_key),
          from_view_(framing.from_view), interval_us_(interval_us), reply_timeout_us_(reply_timeout_us),
          reply_gap_us_(reply_gap_us), until_(std::move(until)), whole_adu_(framing.view_key == "modbus"),
          at_(framing.name == "at") {}

    void start() {
        stdin_watch_ = loop_.watch(STDIN_FILENO, POLLIN, [this](short) { read_stdin(); });
        session_.on_writable = [this] { pump(); };
        session_.on_data = [this](std::string_view bytes) { received(bytes); };
        session_.on_lost = [this] { // resend the frame the loss cut, whole, once the link is back
            out_.erase(0, frame_start_);
            for (auto& e : ends_)
                e -= frame_start_;
            done_ = frame_start_ = 0;
        };
        session_.on_up = [this] { pump(); };
        pump();
    }
    uint64_t frames_out() const { return stats_.frames_out; }
    uint64_t lines() const { return input_.line_no(); }
    const DecoderStats& reply_stats() const { return decoder_->stats(); }
    /// Requests whose reply did not come (124) or was wrong (5): the first one's code decides.
    Exit judged = Exit::ok;
    std::vector<JunitCase> cases; // one per request, for --junit
    uint64_t requests = 0, failed_requests = 0;

  private:
    void read_stdin() {
        input_.read_from(STDIN_FILENO);
        pump();
    }

    bool input_done() const { return input_.exhausted() || (a_.limits.count && queued_ >= a_.limits.count); }

    /// Turns input lines into frames while the pacing, the reply wait and the buffer allow, and
    /// writes them out; finishes when input has ended and every frame has left.
    void pump() {
        std::string line;
        for (int round = 0;; ++round) {
            while (!loop_.stopped() && session_.up() && !awaiting_reply_ && mono_us() >= next_send_us_ &&
                   out_.size() < (1 << 16) && !input_done()) {
                if (!input_.next_line(line)) break;
                if (!encode(line)) continue;
                ++queued_;
                if (interval_us_ || a_.reply) break; // one frame at a time
            }
            write_out();
            if (loop_.stopped() || !out_.empty() || awaiting_reply_ || interval_us_ || !session_.up() ||
                input_done() || !input_.has_line())
                break;
            if (round == 64) { // let the other watches have a turn
                loop_.at(0, [this] { pump(); });
                break;
            }
        }
        if (loop_.stopped()) return;
        bool input_wanted = input_.wants_input() && !input_done();
        loop_.set_events(stdin_watch_, input_wanted ? POLLIN : 0);
        if (input_done() && out_.empty() && !awaiting_reply_) finish();
    }

    bool encode(const std::string& line) {
        std::string_view payload = line;
        if (!a_.raw) {
            stats_.records_in++;
            if (auto st = parser_.parse(line, record_); !st) return bad(st.error().message);
            if (record_.kind == PayloadKind::none) {
                const ExtraField* view = nullptr;
                for (auto& f : record_.extra)
                    if (!view_key_.empty() && f.key == view_key_) view = &f;
                if (!view)
                    return bad(
                        view_key_.empty()
                            ? "no payload: a record needs one of text, json, hex, b64"
                            : fmt::format("no payload: a record needs one of text, json, hex, b64, or {}",
                                          view_key_));
                auto built = from_view_(view->raw_value);
                if (!built) return bad(built.error().message);
                scratch_ = std::move(*built);
                payload = scratch_;
            } else {
                payload = record_.payload_view(scratch_);
            }
        }
        Request q;
        if (a_.reply) {
            q.line = input_.line_no();
            q.reply_to = std::to_string(input_.line_no());
            q.title = fmt::format("line {}", q.line);
            if (!a_.raw) {
                if (record_.seq) q.reply_to = std::to_string(*record_.seq);
                for (auto& f : record_.extra) {
                    if (f.key == "name") q.name = f.raw_value;
                    if (f.key == view_key_ && f.key == "modbus") {
                        auto spec = modbus::spec_of(f.raw_value);
                        if (!spec) return bad(spec.error().message);
                        q.spec = *spec;
                    }
                    if (f.key != "expect" && f.key != view_key_ && f.key != "reply_to" &&
                        f.key != "unsolicited")
                        q.carry.push_back(f);
                    if (f.key != "expect") continue;
                    if (!f.raw_value.empty() && f.raw_value.front() == '{') {
                        q.expect_obj = f.raw_value;
                        continue;
                    }
                    simdjson::dom::parser p;
                    std::string_view re;
                    if (p.parse(f.raw_value).get_string().get(re))
                        return bad(
                            "\"expect\" must be a regular expression (a string) or, for Modbus, an object");
                    try {
                        q.expect_re.emplace(std::string(re), std::regex::ECMAScript);
                        q.expect_text = re;
                    } catch (const std::regex_error& e) {
                        return bad(fmt::format("\"expect\": bad regular expression '{}': {}", re, e.what()));
                    }
                }
            }
        }
        if (auto st = encoder_->encode(payload, out_); !st) return bad(st.error().message);
        if (recorder_.logging()) { // --log holds what went out beside the replies
            uint64_t seq = input_.line_no();
            if (!a_.raw && record_.seq) seq = *record_.seq;
            sent_.push_back({seq, std::string(payload)});
        }
        if (a_.reply) {
            if (!q.name.empty()) {
                simdjson::dom::parser p;
                std::string_view n;
                q.title = p.parse(q.name).get_string().get(n) ? q.name : std::string(n);
            } else if (std::all_of(payload.begin(), payload.end(),
                                   [](unsigned char c) { return c >= 0x20; })) {
                q.title = std::string(payload.substr(0, 120));
            } else {
                q.title += " (hex " + to_hex(payload.substr(0, 32)) + (payload.size() > 32 ? "...)" : ")");
            }
            drain_stale();
            decoder_->sent(payload);
            waiting_.push_back(std::move(q));
        }
        ends_.push_back(out_.size());
        return true;
    }

    bool bad(const std::string& why) {
        ++stats_.bad_records;
        log::error("line {}: {}", input_.line_no(), why);
        if (a_.common.strict) loop_.fail(Exit::bad_data, fmt::format("line {}: {}", input_.line_no(), why));
        return false;
    }

    void write_out() {
        bool datagram = session_.link().datagram();
        while (done_ < out_.size() && session_.up()) {
            // A datagram link gets one frame per write: the datagram is the frame boundary.
            size_t len = datagram ? ends_.front() - done_ : out_.size() - done_;
            size_t n = session_.write(std::string_view(out_).substr(done_, len));
            if (n == 0) break;
            done_ += n;
            count_sent_frames();
        }
        if (done_ == out_.size()) {
            out_.clear();
            done_ = frame_start_ = 0;
            ends_.clear();
        }
        session_.want_write(done_ < out_.size());
    }

    /// Counts the frames the last writes completed; each starts a reply wait or a pause.
    void count_sent_frames() {
        while (!ends_.empty() && ends_.front() <= done_) {
            frame_start_ = ends_.front();
            ends_.pop_front();
            ++stats_.frames_out;
            if (!sent_.empty()) {
                Record r;
                int64_t now = wall_us();
                r.ts = format_rfc3339(now);
                r.src = session_.link().name();
                r.dir = "tx";
                r.seq = sent_.front().first;
                set_payload(r, std::move(sent_.front().second), recorder_.style());
                sent_.pop_front();
                recorder_.log_only(r, now);
            }
            if (a_.reply) {
                current_ = std::move(waiting_.front());
                waiting_.pop_front();
                await_reply();
            }
            if (interval_us_) {
                next_send_us_ = mono_us() + interval_us_;
                loop_.at(next_send_us_, [this] { pump(); });
            }
        }
    }

    void await_reply() {
        awaiting_reply_ = true;
        reply_started_us_ = mono_us();
        case_failure_.clear();
        case_message_.clear();
        ++requests;
        reply_frames_ = 0;
        reply_until_seen_ = reply_expect_seen_ = false;
        reply_last_.clear();
        reply_got_.clear();
        reply_problem_.clear();
        reply_fields_ = {{"reply_to", current_.reply_to}};
        reply_fields_.insert(reply_fields_.end(), current_.carry.begin(), current_.carry.end());
        reply_timer_ = loop_.at(mono_us() + reply_timeout_us_, [this] {
            reply_timer_ = -1;
            ++stats_.reply_timeouts;
            if (reply_frames_ == 0)
                judge(Exit::timeout,
                      fmt::format("{}: no reply within {}", current_.label(), a_.reply_timeout));
            else if (at_)
                judge(Exit::timeout,
                      fmt::format("{}: no final result code (OK, ERROR...){} within {}; last got {}",
                                  current_.label(), until_ ? " or --until match" : "", a_.reply_timeout,
                                  shown(reply_last_)));
            else if (until_ && !reply_until_seen_)
                judge(Exit::timeout,
                      fmt::format("{}: --until /{}/ not seen within {}; last got {}", current_.label(),
                                  a_.limits.until, a_.reply_timeout, shown(reply_last_)));
            else
                complete();
            end_reply();
        });
    }

    /// Before a request goes out, what the decoder holds of a frame that never completed is
    /// flushed (printed as unsolicited, or dropped and counted as truncated where the framing cannot
    /// show a partial frame): stale bytes are never glued to the next request's reply.
    void drain_stale() {
        Frames stale;
        decoder_->finish(stale);
        if (stale.empty()) return;
        static const std::vector<ExtraField> unsolicited = {{"unsolicited", "true"}};
        stats_.unsolicited += stale.size();
        recorder_.record(stale, session_.link().name(), unsolicited);
    }

    /// Records the first failure's code; every failure is named on stderr.
    void judge(Exit code, const std::string& why) {
        ++failed_requests;
        case_failure_ = code == Exit::timeout ? "timeout" : "wrong-answer";
        case_message_ = why;
        log::error("{}", why);
        if (judged == Exit::ok) judged = code;
    }

    /// The reply is whole: its problems and expectations are judged.
    void complete() {
        ++stats_.replies;
        if (!reply_problem_.empty())
            ++stats_.wrong_replies, judge(Exit::wrong_answer, reply_problem_);
        else if (current_.expect_re && !reply_expect_seen_)
            ++stats_.wrong_replies,
                judge(Exit::wrong_answer, fmt::format("{}: expected /{}/, got {}", current_.label(),
                                                      current_.expect_text, reply_got_));
    }

    void end_reply() {
        awaiting_reply_ = false;
        cases.push_back({current_.title, static_cast<double>(mono_us() - reply_started_us_) / 1e6,
                         case_failure_, case_message_});
        if (reply_timer_ >= 0) loop_.cancel(reply_timer_), reply_timer_ = -1;
        if (gap_timer_ >= 0) loop_.cancel(gap_timer_), gap_timer_ = -1;
        loop_.at(0, [this] { pump(); });
    }

    void received(std::string_view bytes) {
        if (!a_.reply) return; // not asked to listen: counted in bytes_in only
        Frames frames;
        decoder_->feed(bytes, mono_us(), frames);
        replies(frames);
    }

    /// Whether this frame of the reply ends it; notes what is wrong with it.
    bool take(const Frame& f) {
        ++reply_frames_;
        reply_last_ = f.bytes;
        if (f.view != R"({"kind":"echo"})" && reply_got_.size() < 400)
            reply_got_ += (reply_got_.empty() ? "" : ", ") + shown(f.bytes);
        if (current_.expect_re && std::regex_search(f.bytes, *current_.expect_re)) reply_expect_seen_ = true;
        bool until = until_ && std::regex_search(f.bytes, *until_);
        reply_until_seen_ |= until;
        if (f.view_key == "modbus" && !f.view.empty()) {
            simdjson::dom::parser p;
            simdjson::dom::object v;
            if (!p.parse(f.view).get_object().get(v)) {
                std::string_view kind, error;
                int64_t code = 0, unit = 0, fc = 0;
                if (!v["kind"].get_string().get(kind) && kind == "exception") {
                    if (v["exception"].get_int64().get(code)) code = 0;
                    if (v["error"].get_string().get(error)) error = "unknown";
                    if (v["unit"].get_int64().get(unit)) unit = 0;
                    if (v["fc"].get_int64().get(fc)) fc = 0;
                    reply_problem_ = fmt::format("{}: unit {} answered fc {} with Modbus exception {} ({})",
                                                 current_.label(), unit, fc, code, error);
                } else if (!current_.expect_obj.empty()) {
                    reply_problem_ = compare_expect(v);
                }
            }
        } else if (f.view_key == "at") { // the AT framing knows where a reply ends
            if (f.view.starts_with(R"({"kind":"final")")) {
                if (f.view.find(R"("ok":false)") != std::string::npos && reply_problem_.empty())
                    reply_problem_ =
                        fmt::format("{}: the modem answered {}", current_.label(), shown(f.bytes));
                return true; // a final result code always ends the reply (--until can end it sooner)
            }
            if (until_) return until;
            return false;
        } else if (at_failure_code(f.bytes) && reply_problem_.empty()) {
            reply_problem_ = fmt::format("{}: the device answered {}", current_.label(), shown(f.bytes));
            return true; // a final result code ends the reply
        }
        if (whole_adu_) return true;
        if (until_) return until;
        return reply_gap_us_ == 0;
    }

    /// A typed read's reply: "values" (decoded as the request's type says) beside "regs".
    void add_values(Frame& f) {
        if (f.view_key != "modbus" || f.view.empty() || f.view.back() != '}') return;
        simdjson::dom::parser p;
        simdjson::dom::array regs;
        if (p.parse(f.view)["regs"].get_array().get(regs)) return;
        std::vector<uint16_t> r;
        for (auto e : regs) {
            uint64_t v = 0;
            if (!e.get_uint64().get(v)) r.push_back(static_cast<uint16_t>(v));
        }
        f.view.insert(f.view.size() - 1, ",\"values\":" + modbus::values_json(r, *current_.spec));
    }

    /// {"expect":{"regs":[...]}} against a Modbus reply's view: each key given must be equal.
    std::string compare_expect(simdjson::dom::object view) {
        simdjson::dom::parser p;
        simdjson::dom::object want;
        if (p.parse(current_.expect_obj).get_object().get(want))
            return fmt::format("{}: \"expect\" is not an object", current_.label());
        for (auto field : want) {
            simdjson::dom::element got;
            std::string w = simdjson::minify(field.value);
            if (view[field.key].get(got))
                return fmt::format("{}: expected {} {}, the reply has no {}", current_.label(), field.key, w,
                                   field.key);
            std::string g = simdjson::minify(got);
            if (g != w) return fmt::format("{}: expected {} {}, got {}", current_.label(), field.key, w, g);
        }
        return {};
    }

    void replies(Frames& frames) {
        // time-based framings (idle, a Modbus RTU frame with a bad CRC) end a frame at a silence
        if (tick_timer_ >= 0) loop_.cancel(tick_timer_), tick_timer_ = -1;
        if (int64_t at = decoder_->deadline(); at >= 0)
            tick_timer_ = loop_.at(at, [this] {
                tick_timer_ = -1;
                Frames more;
                decoder_->tick(mono_us(), more);
                replies(more);
            });
        static const std::vector<ExtraField> unsolicited = {{"unsolicited", "true"}};
        Frames one; // record() takes the frames it prints
        for (auto& f : frames) {
            if (loop_.stopped()) break;
            bool urc = f.view_key == "at" && f.view == R"({"kind":"urc"})";
            if (!awaiting_reply_ || urc) { // outside any request's window, or a URC: never part of a reply
                ++stats_.unsolicited;
                one.clear();
                one.push_back(std::move(f));
                recorder_.record(one, session_.link().name(), unsolicited);
                continue;
            }
            if (current_.spec) add_values(f);
            bool done = take(f);
            one.clear();
            one.push_back(std::move(f));
            recorder_.record(one, session_.link().name(), reply_fields_);
            if (done) {
                complete();
                end_reply();
            } else if (reply_gap_us_ > 0) { // the reply ends at a silence this long
                if (gap_timer_ >= 0) loop_.cancel(gap_timer_);
                gap_timer_ = loop_.at(mono_us() + reply_gap_us_, [this] {
                    gap_timer_ = -1;
                    if (until_ && !reply_until_seen_) return; // --until decides; the timeout bounds it
                    complete();
                    end_reply();
                });
            }
        }
        frames.clear();
    }

    void finish() {
        if (finishing_) return;
        finishing_ = true; // once everything written is taken, the run is done
        session_.when_taken([this] { loop_.stop(Exit::ok); });
    }

    const SendArgs& a_;
    EventLoop& loop_;
    LinkSession& session_;
    RunStats& stats_;
    FrameRecorder& recorder_;
    std::unique_ptr<Encoder> encoder_;
    std::unique_ptr<Decoder> decoder_;
    std::string view_key_;
    std::function<Expected<std::string>(std::string_view)> from_view_;
    RecordParser parser_;
    Record record_;
    std::string scratch_;
    int64_t interval_us_, reply_timeout_us_;
    int stdin_watch_ = -1;
    LineInput input_{a_.max_line, [this](const std::string& why) { bad(why); }};
    uint64_t queued_ = 0;
    std::string out_;
    size_t done_ = 0;
    std::deque<size_t> ends_;                           // where each queued frame ends in out_
    std::deque<std::pair<uint64_t, std::string>> sent_; // --log: each queued frame's seq and payload
    size_t frame_start_ = 0;                            // where the frame being written starts in out_
    bool awaiting_reply_ = false;
    int reply_timer_ = -1;
    int64_t reply_gap_us_;
    std::optional<std::regex> until_;
    bool whole_adu_;              // Modbus: one frame is the whole reply
    bool at_;                     // AT: a final result code ends the reply
    std::deque<Request> waiting_; // the requests of the frames queued in out_
    Request current_;
    std::vector<ExtraField> reply_fields_;
    uint64_t reply_frames_ = 0;
    bool reply_until_seen_ = false, reply_expect_seen_ = false;
    std::string reply_last_, reply_got_, reply_problem_; // reply_got_: the frames as a message shows them
    int gap_timer_ = -1;
    int64_t reply_started_us_ = 0;
    std::string case_failure_, case_message_;
    int tick_timer_ = -1;
    int64_t next_send_us_ = 0;
    bool finishing_ = false;
};

} // namespace

Expected<Exit> run_send(const SendArgs& a) {
    auto uri = parse_uri(a.link.uri);
    if (!uri) return std::unexpected(uri.error());
    // what comes back on the link are the device's replies (Modbus: responses, not requests)
    auto framing =
        make_framing(a.framing.framing, {.max_frame = a.framing.max_frame, .expect = Expect::responses});
    if (!framing) return std::unexpected(framing.error());
    int64_t interval_us = 0, reply_timeout_us = 0;
    if (!a.interval.empty()) {
        auto d = parse_duration(a.interval);
        if (!d) return std::unexpected(d.error());
        interval_us = d->count();
    }
    auto rt = parse_duration(a.reply_timeout);
    if (!rt) return std::unexpected(rt.error());
    reply_timeout_us = rt->count();
    if (!a.junit.empty() && !a.reply)
        return fail(Exit::usage, "--junit needs --reply (a testcase is a request and its reply)");
    int64_t reply_gap_us = 0;
    if (!a.reply_gap.empty()) {
        auto d = parse_duration(a.reply_gap);
        if (!d) return std::unexpected(d.error());
        reply_gap_us = d->count();
        if (!a.reply) return fail(Exit::usage, "--reply-gap needs --reply");
    }
    // With --reply, --until ends each reply (the run goes on to the next request); without, it
    // ends the run at the first frame back that matches.
    std::optional<std::regex> until;
    if (a.reply && !a.limits.until.empty()) {
        try {
            until.emplace(a.limits.until, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            return fail(Exit::usage, fmt::format("bad --until regex '{}': {}", a.limits.until, e.what()));
        }
    }
    int64_t break_us = 0;
    if (!a.brk.empty()) {
        auto d = parse_duration(a.brk);
        if (!d) return std::unexpected(d.error());
        break_us = d->count();
        if (break_us <= 0 || break_us > 10000000)
            return fail(Exit::usage, fmt::format("--break '{}': more than 0 and at most 10s", a.brk));
    }
    bool stream = uri->scheme == "file" || uri->scheme == "stdio"; // written, never read back
    auto link = open_link(*uri, stream ? LinkRole::write : LinkRole::both);
    if (!link) return std::unexpected(link.error());

    EventLoop loop;
    RunStats stats;
    cli::LimitArgs reply_limits = a.limits;
    reply_limits.count = 0; // --count counts frames sent, not replies
    if (a.reply) reply_limits.until.clear();
    FrameRecorder reply_recorder(loop, stats, a.output, reply_limits, a.common.strict);
    if (auto st = reply_recorder.init(); !st) return std::unexpected(st.error());
    LinkSession session(loop, std::move(*link), !a.link.no_reconnect, stats, !stream);
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    if (break_us) { // before anything is written: a LIN or DMX frame, a device's attention signal
        Link& l = session.link();
        if (l.tty_fd() < 0)
            return fail(Exit::usage, fmt::format("--break needs a serial line; {} is not one", l.name()));
        if (auto st = send_break(l.tty_fd(), break_us, l.name()); !st) return std::unexpected(st.error());
    }
    Sender sender(a, loop, session, stats, reply_recorder, *framing, interval_us, reply_timeout_us,
                  reply_gap_us, std::move(until));
    sender.start();
    reply_recorder.arm_timeout();

    int64_t started_us = mono_us();
    Exit code = loop.run();
    reply_recorder.flush();
    if (!a.junit.empty()) {
        if (auto st = write_junit(a.junit, "m2m-send " + a.link.uri, sender.cases,
                                  static_cast<double>(mono_us() - started_us) / 1e6);
            !st)
            log::error("{}", st.error().message);
    }
    stats.add_decoder(sender.reply_stats());
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    auto result = loop.result();
    if (!result && result.error().code == Exit::runtime)
        return fail(Exit::runtime,
                    fmt::format("{} after {} frame(s) went out", result.error().message, stats.frames_out));
    if (!result) return result;
    if (code == Exit::ok && sender.judged != Exit::ok)
        return fail(sender.judged, fmt::format("{} of {} request(s) failed (each named above)",
                                               sender.failed_requests, sender.requests));
    return code;
}

} // namespace m2m
