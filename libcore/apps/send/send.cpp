#include "apps/send/send.hpp"
#include "records/parser.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/line_input.hpp"
#include "runtime/link_session.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <deque>
#include <poll.h>
#include <unistd.h>

namespace m2m {

namespace {

/// The sending side's state: input lines in, frames out, at most one reply awaited at a time.
class Sender {
  public:
    Sender(const SendArgs& a, EventLoop& loop, LinkSession& session, RunStats& stats, FrameRecorder& recorder,
           const Framing& framing, int64_t interval_us, int64_t reply_timeout_us)
        : a_(a), loop_(loop), session_(session), stats_(stats), recorder_(recorder),
          encoder_(framing.encoder()), decoder_(framing.decoder()), view_key_(framing.view_key),
          from_view_(framing.from_view), interval_us_(interval_us), reply_timeout_us_(reply_timeout_us) {}

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
    std::string failure;

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
        if (auto st = encoder_->encode(payload, out_); !st) return bad(st.error().message);
        if (a_.reply) decoder_->sent(payload);
        ends_.push_back(out_.size());
        return true;
    }

    bool bad(const std::string& why) {
        ++stats_.bad_records;
        log::error("line {}: {}", input_.line_no(), why);
        if (a_.common.strict) {
            failure = fmt::format("line {}: {}", input_.line_no(), why);
            loop_.stop(Exit::bad_data);
        }
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
            if (a_.reply) await_reply();
            if (interval_us_) {
                next_send_us_ = mono_us() + interval_us_;
                loop_.at(next_send_us_, [this] { pump(); });
            }
        }
    }

    void await_reply() {
        awaiting_reply_ = true;
        reply_timer_ = loop_.at(mono_us() + reply_timeout_us_, [this] {
            reply_timer_ = -1;
            ++stats_.reply_timeouts;
            log::warn("line {}: no reply within {}", input_.line_no(), a_.reply_timeout);
            awaiting_reply_ = false;
            pump();
        });
    }

    void received(std::string_view bytes) {
        if (!a_.reply) return; // not asked to listen: counted in bytes_in only
        std::vector<Frame> frames;
        decoder_->feed(bytes, mono_us(), frames);
        replies(frames);
    }

    void replies(std::vector<Frame>& frames) {
        // time-based framings (idle, a Modbus RTU frame with a bad CRC) end a frame at a silence
        if (tick_timer_ >= 0) loop_.cancel(tick_timer_), tick_timer_ = -1;
        if (int64_t at = decoder_->deadline(); at >= 0)
            tick_timer_ = loop_.at(at, [this] {
                tick_timer_ = -1;
                std::vector<Frame> more;
                decoder_->tick(mono_us(), more);
                replies(more);
            });
        if (!frames.empty() && awaiting_reply_) {
            ++stats_.replies;
            awaiting_reply_ = false;
            if (reply_timer_ >= 0) loop_.cancel(reply_timer_), reply_timer_ = -1;
        }
        recorder_.record(frames, session_.link().name());
        if (!awaiting_reply_) loop_.at(0, [this] { pump(); });
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
    std::deque<size_t> ends_; // where each queued frame ends in out_
    size_t frame_start_ = 0;  // where the frame being written starts in out_
    bool awaiting_reply_ = false;
    int reply_timer_ = -1;
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
    bool stream = uri->scheme == "file" || uri->scheme == "stdio"; // written, never read back
    auto link = open_link(*uri, stream ? LinkRole::write : LinkRole::both);
    if (!link) return std::unexpected(link.error());

    EventLoop loop;
    RunStats stats;
    cli::LimitArgs reply_limits = a.limits;
    reply_limits.count = 0; // --count counts frames sent, not replies
    FrameRecorder reply_recorder(loop, stats, a.output, reply_limits, a.common.strict);
    if (auto st = reply_recorder.init(); !st) return std::unexpected(st.error());
    LinkSession session(loop, std::move(*link), !a.link.no_reconnect, stats, !stream);
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    Sender sender(a, loop, session, stats, reply_recorder, *framing, interval_us, reply_timeout_us);
    sender.start();
    reply_recorder.arm_timeout();

    Exit code = loop.run();
    reply_recorder.flush();
    stats.add_decoder(sender.reply_stats());
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    if (code == Exit::runtime)
        return fail(code,
                    fmt::format("{} after {} frame(s) went out",
                                session.failure().empty() ? reply_recorder.failure() : session.failure(),
                                stats.frames_out));
    if (code == Exit::bad_data)
        return fail(code, sender.failure.empty() ? reply_recorder.failure() : sender.failure);
    return code;
}

} // namespace m2m
