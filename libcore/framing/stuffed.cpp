// Byte-stuffed framings: SLIP (RFC 1055) and COBS. Both delimit frames with a byte that never
// occurs inside one, so a decoder joining mid-stream discards what precedes the first delimiter
// (counted as "garbage") and is in sync from there; the encoders send a leading delimiter, as
// RFC 1055 recommends, so the first frame survives on a fresh link.
#include "framing/codecs.hpp"
#include "util/scan.hpp"

namespace m2m {

namespace {

constexpr unsigned char kEnd = 0xC0, kEsc = 0xDB, kEscEnd = 0xDC, kEscEsc = 0xDD;

/// What SLIP and COBS decoders share: sync on the delimiter, accumulate, cut overlong frames.
class StuffedDecoder : public Decoder {
  public:
    using Decoder::Decoder;
    void finish(Frames&) override {
        if (!synced_ && raw_len_)
            drop("garbage", raw_len_);
        else if (raw_len_)
            drop("truncated", raw_len_);
        reset();
    }

  protected:
    /// Returns false while still looking for the first delimiter.
    bool sync(unsigned char c, unsigned char delim) {
        if (synced_) return true;
        if (c == delim) {
            if (raw_len_) drop("garbage", raw_len_);
            synced_ = true;
            raw_len_ = 0;
        } else {
            ++raw_len_;
        }
        return false;
    }
    void put_run(std::string_view run) {
        raw_len_ += run.size();
        size_t room = max_frame_ - std::min(max_frame_, buf_.size());
        buf_.append(run.substr(0, room));
        overflow_ += run.size() > room ? run.size() - room : 0;
    }
    void put(unsigned char c) {
        if (buf_.size() < max_frame_)
            buf_.push_back(static_cast<char>(c));
        else
            ++overflow_;
    }
    void end_frame(Frames& out, const char* bad_cause) {
        if (bad_cause)
            drop(bad_cause, raw_len_);
        else if (overflow_)
            emit_cut(out, std::move(buf_), overflow_);
        else
            emit(out, std::move(buf_));
        reset();
    }
    void reset() {
        buf_.clear();
        raw_len_ = 0;
        overflow_ = 0;
    }
    std::string buf_;
    uint64_t raw_len_ = 0; // encoded bytes of the frame in progress
    uint64_t overflow_ = 0;
    bool synced_ = false;
};

class SlipDecoder final : public StuffedDecoder {
  public:
    using StuffedDecoder::StuffedDecoder;
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        for (size_t i = 0; i < bytes.size(); ++i) {
            auto c = static_cast<unsigned char>(bytes[i]);
            if (synced_ && !esc_ && c != kEnd && c != kEsc) { // a run of plain bytes, copied at once
                size_t end = scan::find_either(bytes, i + 1, kEnd, kEsc);
                put_run(bytes.substr(i, end - i));
                i = end - 1;
                continue;
            }
            if (!sync(c, kEnd)) continue;
            if (c == kEnd) {
                if (raw_len_) end_frame(out, bad_ ? "bad_escape" : nullptr); // empty frames are padding
                bad_ = esc_ = false;
                continue;
            }
            ++raw_len_;
            if (esc_) {
                esc_ = false;
                if (c == kEscEnd)
                    put(kEnd);
                else if (c == kEscEsc)
                    put(kEsc);
                else
                    bad_ = true;
            } else if (c == kEsc) {
                esc_ = true;
            } else {
                put(c);
            }
        }
    }

  private:
    bool esc_ = false, bad_ = false;
};

class SlipEncoder final : public Encoder {
  public:
    Status encode(std::string_view payload, std::string& out) override {
        if (payload.empty()) return fail(Exit::bad_data, "SLIP cannot carry an empty frame");
        out += static_cast<char>(kEnd);
        size_t run = 0;
        for (size_t i = scan::find_either(payload, 0, kEnd, kEsc); i < payload.size();
             i = scan::find_either(payload, i + 1, kEnd, kEsc)) {
            auto c = static_cast<unsigned char>(payload[i]);
            out.append(payload.data() + run, i - run);
            out += static_cast<char>(kEsc);
            out += static_cast<char>(c == kEnd ? kEscEnd : kEscEsc);
            run = i + 1;
        }
        out.append(payload.data() + run, payload.size() - run);
        out += static_cast<char>(kEnd);
        return {};
    }
};

class CobsDecoder final : public StuffedDecoder {
  public:
    using StuffedDecoder::StuffedDecoder;
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        for (char ch : bytes) {
            auto c = static_cast<unsigned char>(ch);
            if (!sync(c, 0)) continue;
            if (c == 0) {
                if (raw_len_) end_frame(out, remaining_ ? "bad_cobs" : nullptr);
                remaining_ = 0;
                zero_pending_ = false;
                continue;
            }
            ++raw_len_;
            if (remaining_) {
                put(c);
                --remaining_;
                continue;
            }
            if (zero_pending_) put(0); // the block before ended with an implied zero
            remaining_ = c - 1u;
            zero_pending_ = c != 0xFF;
        }
    }

  private:
    unsigned remaining_ = 0;
    bool zero_pending_ = false;
};

class CobsEncoder final : public Encoder {
    static void close_block(std::string& out, size_t& code_at, unsigned char& code) {
        out[code_at] = static_cast<char>(code);
        code_at = out.size();
        out += '\x01';
        code = 1;
    }

  public:
    Status encode(std::string_view payload, std::string& out) override {
        out += '\0';
        size_t code_at = out.size();
        out += '\x01';
        unsigned char code = 1;
        for (char ch : payload) {
            if (code == 0xFF) close_block(out, code_at, code); // a full block has no implied zero
            if (ch == 0) {
                close_block(out, code_at, code);
                continue;
            }
            out += ch;
            ++code;
        }
        out[code_at] = static_cast<char>(code);
        out += '\0';
        return {};
    }
};

} // namespace

Framing slip_framing(const FramingOptions& opts) {
    return Framing{"slip", [max = opts.max_frame] { return std::make_unique<SlipDecoder>(max); },
                   [] { return std::make_unique<SlipEncoder>(); }};
}

Framing cobs_framing(const FramingOptions& opts) {
    return Framing{"cobs", [max = opts.max_frame] { return std::make_unique<CobsDecoder>(max); },
                   [] { return std::make_unique<CobsEncoder>(); }};
}

} // namespace m2m
