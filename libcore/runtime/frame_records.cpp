#include "runtime/frame_records.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

namespace m2m {

void frame_to_record(Frame& f, const std::string& src, PayloadStyle style, int64_t now_wall_us, Record& r) {
    frame_to_record(f, src, style, format_rfc3339(now_wall_us), r);
}

void frame_to_record(Frame& f, const std::string& src, PayloadStyle style, std::string_view ts, Record& r) {
    r.clear();
    r.ts = ts;
    r.src = src;
    r.dir = "rx";
    // swapped, not moved: the frame's slot keeps a buffer for the next frame (Frames)
    r.payload.swap(f.bytes);
    classify_payload(r, style);
    r.err.swap(f.err);
    if (!f.view.empty()) r.extra.push_back(ExtraField{std::move(f.view_key), std::move(f.view)});
}

Expected<std::vector<ExtraField>> parse_set_fields(const std::vector<std::string>& args) {
    std::vector<ExtraField> out;
    for (auto& kv : args) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail(Exit::usage, fmt::format("--set '{}': expected KEY=VALUE, like dev=pump1", kv));
        std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
        static const char* core[] = {"ts",    "src",  "dir",  "seq", "topic", "qos", "retain",
                                     "props", "text", "json", "hex", "b64",   "err"};
        for (auto* c : core)
            if (key == c)
                return fail(Exit::usage,
                            fmt::format("--set '{}': '{}' is a field m2mkit itself writes; pick another name",
                                        kv, key));
        std::string raw;
        simdjson::dom::parser p;
        simdjson::dom::element e;
        if (!value.empty() && !p.parse(value).get(e) && !e.is_array() && !e.is_object())
            raw = value; // valid JSON as typed: 1.10 stays 1.10
        else
            append_json_string(raw, value);
        std::erase_if(out, [&](const ExtraField& f) { return f.key == key; }); // the last one given wins
        out.push_back({key, raw});
    }
    return out;
}

void apply_set_fields(const std::vector<ExtraField>& set, Record& r) {
    for (auto& f : set) { // a flag the user typed wins over a field of the same name
        std::erase_if(r.extra, [&](const ExtraField& x) { return x.key == f.key; });
        r.extra.push_back(f);
    }
}

FrameRecorder::FrameRecorder(EventLoop& loop, RunStats& stats, const cli::OutputArgs& out,
                             const cli::LimitArgs& limits, bool strict)
    : loop_(loop), stats_(stats), out_args_(out), limits_(limits), strict_(strict) {}

FrameRecorder::~FrameRecorder() {
    if (log_) (void)log_->flush();
    if (log_fd_ >= 0) ::close(log_fd_);
}

Status FrameRecorder::init() {
    printer_ = Printer(STDOUT_FILENO,
                       resolve_printer(STDOUT_FILENO, out_args_.format, out_args_.ts, out_args_.color));
    if (!out_args_.log.empty()) {
        log_fd_ = ::open(out_args_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd_ < 0)
            return fail(Exit::usage,
                        fmt::format("--log {}: cannot write it: {}", out_args_.log, std::strerror(errno)));
        log_.emplace(log_fd_, PrinterOptions{});
    }
    const auto& p = out_args_.payload;
    style_ = p == "text"   ? PayloadStyle::text
             : p == "json" ? PayloadStyle::json
             : p == "hex"  ? PayloadStyle::hex
             : p == "b64"  ? PayloadStyle::b64
                           : PayloadStyle::auto_;
    auto set = parse_set_fields(out_args_.set);
    if (!set) return std::unexpected(set.error());
    set_ = std::move(*set);
    if (!limits_.until.empty()) {
        try {
            until_.emplace(limits_.until, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            return fail(Exit::usage, fmt::format("bad --until regex '{}': {}", limits_.until, e.what()));
        }
    }
    if (!limits_.timeout.empty()) {
        auto d = parse_duration(limits_.timeout);
        if (!d) return std::unexpected(d.error());
        timeout_us_ = d->count();
    }
    return {};
}

void FrameRecorder::arm_timeout() {
    if (timeout_us_ > 0) loop_.at(mono_us() + timeout_us_, [this] { loop_.stop(Exit::timeout); });
}

void FrameRecorder::record(Frames& frames, const std::string& src, const std::vector<ExtraField>& extra) {
    Record& r = rec_; // kept: its strings' buffers serve the next read's frames
    // one clock read for what one read(2) brought: its frames arrived together
    int64_t now = frames.empty() ? 0 : wall_us();
    std::string ts = frames.empty() ? std::string() : format_rfc3339(now); // formatted once too
    for (auto& f : frames) {
        if (loop_.stopped()) break;
        frame_to_record(f, src, style_, ts, r);
        r.extra.insert(r.extra.end(), extra.begin(), extra.end());
        ++stats_.frames_in;
        emit(r, now);
    }
    frames.clear();
    flush();
}

void FrameRecorder::log_only(Record& r, int64_t now) {
    if (!log_) return;
    if (!r.seq) r.seq = seq_ + 1; // the number emit_formatted() gives the same message
    apply_set_fields(set_, r);
    log_->print(r, now);
}

void FrameRecorder::record_only(Record& r, int64_t now) {
    r.seq = ++seq_;
    apply_set_fields(set_, r);
    if (log_) log_->print(r, now);
}

void FrameRecorder::emit(Record& r, int64_t now, bool counts) {
    ++seq_;
    if (!keep_seq_ || !r.seq) r.seq = seq_;
    apply_set_fields(set_, r);
    printer_.print(r, now);
    if (log_) log_->print(r, now);
    if (!counts) {
        if (printer_.should_flush()) flush();
        return;
    }
    bool matched = until_ && std::regex_search(r.payload, *until_);
    ++stats_.records_out;
    if (!r.err.empty()) {
        ++stats_.bad_frames;
        if (strict_) {
            loop_.fail(Exit::bad_data, fmt::format("frame {}: {}", seq_, r.err));
        }
    }
    if (matched || (limits_.count && stats_.records_out >= limits_.count)) loop_.stop(Exit::ok);
    if (printer_.should_flush()) flush();
}

void FrameRecorder::emit_payload(std::string_view payload) {
    ++seq_;
    printer_.print_payload(payload);
    ++stats_.records_out;
    if (limits_.count && stats_.records_out >= limits_.count) loop_.stop(Exit::ok);
    if (printer_.should_flush()) flush();
}

void FrameRecorder::emit_formatted(std::string_view bytes) {
    ++seq_;
    printer_.print_bytes(bytes);
    ++stats_.records_out;
    if (limits_.count && stats_.records_out >= limits_.count) loop_.stop(Exit::ok);
    if (printer_.should_flush()) flush();
}

void FrameRecorder::check_drops(const DecoderStats& d) {
    uint64_t total = d.total_drops();
    bool more = total > drops_seen_;
    drops_seen_ = total; // a fresh decoder (after a reconnect) starts again from 0
    if (!more) return;
    for (auto& [cause, n] : d.drops)
        log::info("dropped so far: {} x {} ({} bytes)", n, cause, d.dropped_bytes.at(cause));
    if (strict_) {
        loop_.fail(Exit::bad_data,
                   fmt::format("after frame {}: the decoder dropped bytes ({} drop(s) in all; see --stats)",
                               seq_, total));
    }
}

void FrameRecorder::flush() {
    if (log_)
        if (auto st = log_->flush(); !st) {
            loop_.fail(Exit::runtime, fmt::format("--log {}: {}", out_args_.log, st.error().message));
        }
    if (auto st = printer_.flush(); !st) {
        if (st.error().code == Exit::ok) // stdout closed: the reader has what it wanted
            loop_.stop(Exit::ok);
        else
            loop_.fail(st.error().code, st.error().message);
    }
}

} // namespace m2m
