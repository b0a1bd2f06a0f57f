// Line framing: frames end at a delimiter (LF, CR LF or CR), which is not part of the frame.
#include "framing/codecs.hpp"
#include <cstring>

namespace m2m {

namespace {

class LineDecoder final : public Decoder {
  public:
    LineDecoder(std::string delim, size_t max) : Decoder(max), delim_(std::move(delim)) {}

    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        const char last = delim_.back();
        while (!bytes.empty()) {
            auto* hit = static_cast<const char*>(std::memchr(bytes.data(), last, bytes.size()));
            size_t take = hit ? static_cast<size_t>(hit - bytes.data()) + 1 : bytes.size();
            std::string_view chunk = bytes.substr(0, take);
            bytes.remove_prefix(take);
            bool complete =
                hit && (delim_.size() == 1 || (take >= 2 ? chunk[take - 2] : last_byte_) == delim_[0]);
            last_byte_ = chunk.back();
            if (discarding_)
                discarded_ += chunk.size();
            else
                buf_.append(chunk);
            // Overlong once the content (less a delimiter, whole or begun) passes the limit.
            if (!discarding_ && buf_.size() > max_frame_ + delim_.size() - (complete ? 0 : 1))
                start_discard();
            if (complete) end_frame(out);
        }
    }

    void finish(Frames& out) override {
        if (discarding_) {
            emit_cut(out, std::move(cut_), discarded_);
            discarding_ = false;
        } else if (buf_.size() > max_frame_) { // a half delimiter that never completed
            emit_cut(out, std::move(buf_), 0);
        } else if (!buf_.empty()) {
            emit(out, std::move(buf_)); // a last line without its delimiter is still a line
        }
        buf_.clear();
    }

  private:
    void start_discard() {
        discarding_ = true;
        discarded_ = buf_.size() - max_frame_;
        cut_ = std::move(buf_);
        cut_.resize(max_frame_);
        buf_.clear();
    }
    void end_frame(Frames& out) {
        if (discarding_) {
            emit_cut(out, std::move(cut_), discarded_ > delim_.size() ? discarded_ - delim_.size() : 0);
            discarding_ = false;
            discarded_ = 0;
        } else {
            buf_.resize(buf_.size() - delim_.size());
            emit(out, std::move(buf_));
        }
        buf_.clear();
    }

    std::string delim_;
    std::string buf_;
    std::string cut_;
    bool discarding_ = false;
    uint64_t discarded_ = 0;
    char last_byte_ = 0;
};

class LineEncoder final : public Encoder {
  public:
    explicit LineEncoder(std::string delim) : delim_(std::move(delim)) {}
    Status encode(std::string_view payload, std::string& out) override {
        if (payload.find(delim_) != std::string_view::npos)
            return fail(Exit::bad_data, "payload contains the line delimiter; use --framing slip, cobs or "
                                        "len:u16be for binary frames");
        out.append(payload);
        out.append(delim_);
        return {};
    }

  private:
    std::string delim_;
};

} // namespace

Framing line_framing(std::string name, std::string delim, const FramingOptions& opts) {
    return Framing{std::move(name),
                   [delim, max = opts.max_frame] { return std::make_unique<LineDecoder>(delim, max); },
                   [delim] { return std::make_unique<LineEncoder>(delim); }};
}

} // namespace m2m
