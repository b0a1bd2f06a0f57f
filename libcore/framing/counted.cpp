// Counted framings: a length prefix (len:u8|u16be|u16le|u32be|u32le) or a fixed size (fixed:N).
#include "framing/codecs.hpp"
#include <charconv>
#include <fmt/format.h>

namespace m2m {

namespace {

struct Width {
    unsigned bytes;
    bool big_endian;
};

class LengthDecoder final : public Decoder {
  public:
    LengthDecoder(Width w, size_t max) : Decoder(max), w_(w) {}
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        while (!bytes.empty()) {
            if (skip_) { // rest of an overlong frame
                size_t n = std::min<uint64_t>(skip_, bytes.size());
                skip_ -= n;
                bytes.remove_prefix(n);
                if (!skip_) emit_cut(out, std::move(buf_), skipped_), buf_.clear();
                continue;
            }
            if (!have_len_) {
                size_t n = std::min<size_t>(w_.bytes - buf_.size(), bytes.size());
                buf_.append(bytes.substr(0, n));
                bytes.remove_prefix(n);
                if (buf_.size() < w_.bytes) return;
                len_ = 0;
                for (unsigned i = 0; i < w_.bytes; ++i) {
                    unsigned k = w_.big_endian ? i : w_.bytes - 1 - i;
                    len_ = len_ << 8 | static_cast<unsigned char>(buf_[k]);
                }
                buf_.clear();
                have_len_ = true;
            }
            size_t want = std::min<uint64_t>(len_, max_frame_);
            size_t n = std::min<size_t>(want - buf_.size(), bytes.size());
            buf_.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
            if (buf_.size() < want) return;
            have_len_ = false;
            if (len_ > max_frame_) {
                skip_ = skipped_ = len_ - max_frame_;
                continue;
            }
            emit(out, std::move(buf_));
            buf_.clear();
        }
    }
    void finish(Frames&) override {
        uint64_t partial =
            buf_.size() + (have_len_ ? w_.bytes : 0) + (skip_ ? max_frame_ + skipped_ - skip_ : 0);
        if (partial) drop("truncated", partial);
        buf_.clear();
        have_len_ = false;
        skip_ = 0;
    }

  private:
    Width w_;
    std::string buf_;
    bool have_len_ = false;
    uint64_t len_ = 0, skip_ = 0, skipped_ = 0;
};

class LengthEncoder final : public Encoder {
  public:
    explicit LengthEncoder(Width w) : w_(w) {}
    Status encode(std::string_view payload, std::string& out) override {
        uint64_t limit = w_.bytes >= 8 ? UINT64_MAX : (uint64_t{1} << (8 * w_.bytes)) - 1;
        if (payload.size() > limit)
            return fail(Exit::bad_data, fmt::format("frame of {} bytes does not fit a {}-byte length prefix",
                                                    payload.size(), w_.bytes));
        for (unsigned i = 0; i < w_.bytes; ++i) {
            unsigned shift = 8 * (w_.big_endian ? w_.bytes - 1 - i : i);
            out += static_cast<char>(payload.size() >> shift & 0xFF);
        }
        out.append(payload);
        return {};
    }

  private:
    Width w_;
};

class FixedDecoder final : public Decoder {
  public:
    FixedDecoder(size_t size) : Decoder(size), size_(size) {}
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        while (!bytes.empty()) {
            size_t n = std::min(size_ - buf_.size(), bytes.size());
            buf_.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
            if (buf_.size() == size_) emit(out, std::move(buf_)), buf_.clear();
        }
    }
    void finish(Frames&) override {
        if (!buf_.empty()) drop("truncated", buf_.size());
        buf_.clear();
    }

  private:
    size_t size_;
    std::string buf_;
};

class FixedEncoder final : public Encoder {
  public:
    explicit FixedEncoder(size_t size) : size_(size) {}
    Status encode(std::string_view payload, std::string& out) override {
        if (payload.size() != size_)
            return fail(Exit::bad_data, fmt::format("frame is {} bytes; fixed:{} needs exactly {}",
                                                    payload.size(), size_, size_));
        out.append(payload);
        return {};
    }

  private:
    size_t size_;
};

} // namespace

Expected<Framing> length_framing(std::string_view width, const FramingOptions& opts) {
    static const std::pair<std::string_view, Width> widths[] = {
        {"u8", {1, true}},    {"u16be", {2, true}},  {"u16le", {2, false}},
        {"u32be", {4, true}}, {"u32le", {4, false}},
    };
    for (auto& [name, w] : widths)
        if (name == width)
            return Framing{fmt::format("len:{}", width),
                           [w, max = opts.max_frame] { return std::make_unique<LengthDecoder>(w, max); },
                           [w] { return std::make_unique<LengthEncoder>(w); }};
    return fail(Exit::usage, fmt::format("unknown length prefix 'len:{}'; use len:u8, len:u16be, len:u16le, "
                                         "len:u32be or len:u32le",
                                         width));
}

Expected<Framing> fixed_framing(std::string_view arg, const FramingOptions&) {
    size_t size = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), size);
    if (ec != std::errc() || end != arg.data() + arg.size() || size == 0 || size > (1u << 24))
        return fail(Exit::usage,
                    fmt::format("bad framing 'fixed:{}': expected fixed:N with N bytes per frame", arg));
    return Framing{fmt::format("fixed:{}", size), [size] { return std::make_unique<FixedDecoder>(size); },
                   [size] { return std::make_unique<FixedEncoder>(size); }};
}

} // namespace m2m
