// Framings without markers: idle:MS (a frame ends after MS of silence, as Modbus RTU's 3.5
// characters and jpnevulator do) and raw (bytes as they come, one frame per read).
#include "framing/codecs.hpp"
#include "util/duration.hpp"
#include <fmt/format.h>

namespace m2m {

namespace {

class IdleDecoder final : public Decoder {
  public:
    IdleDecoder(int64_t gap_us, size_t max) : Decoder(max), gap_us_(gap_us) {}
    void do_feed(std::string_view bytes, int64_t now_us, Frames& out) override {
        if (bytes.empty()) return;
        tick(now_us, out); // a silence before these bytes ends the frame in progress
        for (;;) {
            size_t room = max_frame_ - buf_.size();
            buf_.append(bytes.substr(0, room));
            if (bytes.size() <= room) break;
            bytes.remove_prefix(room);
            emit_cut(out, std::move(buf_), 0); // the rest starts the next frame
            buf_.clear();
        }
        last_us_ = now_us;
    }
    void tick(int64_t now_us, Frames& out) override {
        if (!buf_.empty() && now_us - last_us_ >= gap_us_) emit(out, std::move(buf_)), buf_.clear();
    }
    int64_t deadline() const override { return buf_.empty() ? -1 : last_us_ + gap_us_; }
    void finish(Frames& out) override {
        if (!buf_.empty()) emit(out, std::move(buf_));
        buf_.clear();
    }

  private:
    int64_t gap_us_;
    int64_t last_us_ = 0;
    std::string buf_;
};

class RawDecoder final : public Decoder {
  public:
    using Decoder::Decoder;
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        while (!bytes.empty()) {
            size_t n = std::min(bytes.size(), max_frame_);
            emit(out, std::string(bytes.substr(0, n)));
            bytes.remove_prefix(n);
        }
    }
    void finish(Frames&) override {}
};

class PassEncoder final : public Encoder {
  public:
    Status encode(std::string_view payload, std::string& out) override {
        out.append(payload);
        return {};
    }
};

} // namespace

Expected<Framing> idle_framing(std::string_view arg, const FramingOptions& opts) {
    std::string text(arg);
    if (!text.empty() && text.find_first_not_of("0123456789.") == std::string::npos) text += "ms";
    auto gap = parse_duration(text);
    if (arg.empty() || !gap || gap->count() <= 0)
        return fail(Exit::usage, fmt::format("bad framing 'idle:{}': expected idle:MS, the silence in "
                                             "milliseconds that ends a frame (idle:20, idle:5ms)",
                                             arg));
    int64_t us = gap->count();
    return Framing{fmt::format("idle:{}", arg),
                   [us, max = opts.max_frame] { return std::make_unique<IdleDecoder>(us, max); },
                   [] { return std::make_unique<PassEncoder>(); }};
}

Framing raw_framing(const FramingOptions& opts) {
    return Framing{"raw", [max = opts.max_frame] { return std::make_unique<RawDecoder>(max); },
                   [] { return std::make_unique<PassEncoder>(); }};
}

} // namespace m2m
