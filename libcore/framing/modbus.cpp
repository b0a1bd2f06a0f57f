// modbus-rtu (unit, PDU, CRC-16; frames found by the length rules of each function code, the CRC
// and the 3.5-character silence) and modbus-tcp (MBAP header). The frame's payload is the ADU
// without its transport wrapping -- unit id and PDU -- and the `modbus` view decodes it.
#include "modbus/modbus.hpp"
#include "framing/codecs.hpp"
#include "util/duration.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace m2m {

namespace {

using namespace m2m::modbus;

Role role_of(Expect e) {
    return e == Expect::requests ? Role::request : e == Expect::responses ? Role::response : Role::any;
}

int u8(std::string_view s, size_t i) {
    return static_cast<unsigned char>(s[i]);
}

constexpr size_t kMaxRtu = 256; // the longest RTU ADU, CRC included

class RtuDecoder final : public Decoder {
  public:
    RtuDecoder(int64_t gap_us, Expect e, size_t max)
        : Decoder(std::min(max, kMaxRtu)), gap_us_(gap_us), role_(role_of(e)) {}

    void do_feed(std::string_view bytes, int64_t now_us, Frames& out) override {
        if (bytes.empty()) return;
        tick(now_us, out); // a silence before these bytes ends what was buffered
        buf_.append(bytes);
        last_us_ = now_us;
        parse(out);
    }

    void tick(int64_t now_us, Frames& out) override {
        if (!buf_.empty() && now_us >= deadline()) silence(out);
    }

    /// A frame whose length is known but whose CRC fails ends at the 3.5-character silence; one
    /// still waiting for bytes gets longer (USB adapters deliver in packets, with pauses).
    int64_t deadline() const override {
        if (buf_.empty()) return -1;
        return last_us_ + (complete_length() ? gap_us_ : std::max<int64_t>(gap_us_ * 10, 50000));
    }

    void finish(Frames& out) override {
        if (!buf_.empty()) silence(out);
    }
    void sent(std::string_view adu) override { describe(adu, true, ctx_); }

  private:
    /// Candidate frame lengths (CRC included) the buffer could have; -1 when unknown yet.
    std::vector<int> candidates() const {
        auto l = adu_lengths(buf_);
        std::vector<int> c;
        for (int n : {l.request, l.response})
            if (n != 0) c.push_back(n < 0 ? -1 : n + 2);
        std::sort(c.begin(), c.end());
        return c;
    }
    bool complete_length() const {
        auto c = candidates();
        return !c.empty() && c.front() > 0 && buf_.size() >= static_cast<size_t>(c.back());
    }
    bool crc_ok(size_t n) const {
        uint16_t crc = crc16(std::string_view(buf_).substr(0, n - 2));
        return u8(buf_, n - 2) == (crc & 0xFF) && u8(buf_, n - 1) == (crc >> 8);
    }
    void good(Frames& out, size_t n) {
        std::string adu = buf_.substr(0, n - 2);
        buf_.erase(0, n);
        bool req = is_request(adu, role_, ctx_);
        std::string view = describe(adu, req, ctx_);
        emit_view(out, std::move(adu), {}, "modbus", std::move(view));
    }

    void parse(Frames& out) {
        while (buf_.size() >= 4) {
            auto c = candidates();
            if (c.empty()) { // a function code without length rules: the silence ends it
                if (buf_.size() > kMaxRtu)
                    drop("garbage", 1), buf_.erase(0, 1);
                else
                    return;
                continue;
            }
            bool matched = false, waiting = false;
            for (int n : c) {
                if (n < 0 || buf_.size() < static_cast<size_t>(n)) {
                    waiting = true;
                    continue;
                }
                if (crc_ok(static_cast<size_t>(n))) {
                    good(out, static_cast<size_t>(n));
                    matched = true;
                    break;
                }
            }
            if (matched) continue;
            if (waiting) return;
            // every length this header allows has arrived and none has a valid CRC, and more
            // bytes came without a silence: resynchronise one byte on
            if (buf_.size() > static_cast<size_t>(c.back())) {
                drop("garbage", 1);
                buf_.erase(0, 1);
                continue;
            }
            return; // exactly one candidate's length: the silence decides (CRC error record)
        }
    }

    bool frame_at_start() const {
        auto c = candidates();
        size_t n = buf_.size();
        bool fits = std::find(c.begin(), c.end(), static_cast<int>(n)) != c.end();
        return (fits || c.empty()) && n >= 4 && crc_ok(n);
    }

    /// The line went quiet: what is buffered is one frame, good or not.
    void silence(Frames& out) {
        parse(out);
        if (buf_.empty()) return;
        // noise before a frame (a function code without rules, a length that never came): skip
        // to the first place where a whole frame with a good CRC starts
        if (!frame_at_start()) {
            for (size_t k = 1; k + 4 <= buf_.size(); ++k) {
                std::string_view rest = std::string_view(buf_).substr(k);
                auto l = adu_lengths(rest);
                for (int n : {l.request, l.response}) {
                    if (n <= 0 || rest.size() < static_cast<size_t>(n) + 2) continue;
                    uint16_t crc = crc16(rest.substr(0, static_cast<size_t>(n)));
                    if (u8(rest, n) == (crc & 0xFF) && u8(rest, n + 1) == (crc >> 8)) {
                        drop("garbage", k);
                        buf_.erase(0, k);
                        silence(out);
                        return;
                    }
                }
            }
        }
        auto c = candidates();
        size_t n = buf_.size();
        bool fits = std::find(c.begin(), c.end(), static_cast<int>(n)) != c.end();
        if ((fits || c.empty()) && n >= 4 && crc_ok(n)) { // unknown function code, CRC good
            good(out, n);
            return;
        }
        std::string err;
        if (n < 4) {
            err = fmt::format("truncated: {} byte(s), shorter than any Modbus RTU frame", n);
        } else if (fits || c.empty()) {
            uint16_t crc = crc16(std::string_view(buf_).substr(0, n - 2));
            err = fmt::format("CRC mismatch: frame says {:02x}{:02x}, computed {:02x}{:02x}", u8(buf_, n - 2),
                              u8(buf_, n - 1), crc & 0xFF, crc >> 8);
        } else {
            err = fmt::format("truncated: {} byte(s) do not make a whole frame for function {}", n,
                              u8(buf_, 1));
        }
        emit(out, std::move(buf_), std::move(err));
        buf_.clear();
    }

    int64_t gap_us_;
    Role role_;
    Context ctx_;
    int64_t last_us_ = 0;
    std::string buf_;
};

class RtuEncoder final : public Encoder {
  public:
    Status encode(std::string_view adu, std::string& out) override {
        if (adu.size() < 2 || adu.size() > kMaxRtu - 2)
            return fail(Exit::bad_data,
                        fmt::format("a Modbus RTU payload is a unit id, a function code and up to "
                                    "252 data bytes; got {} byte(s)",
                                    adu.size()));
        uint16_t crc = crc16(adu);
        out.append(adu);
        out.push_back(static_cast<char>(crc & 0xFF));
        out.push_back(static_cast<char>(crc >> 8));
        return {};
    }
};

class TcpDecoder final : public Decoder {
  public:
    TcpDecoder(Expect e, size_t max) : Decoder(max), role_(role_of(e)) {}
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        buf_.append(bytes);
        size_t at = 0;
        while (buf_.size() - at >= 8) {
            std::string_view b = std::string_view(buf_).substr(at);
            Mbap h = read_mbap(b);
            if (!h.plausible()) { // not an MBAP header: one byte on
                drop("bad MBAP header", 1);
                ++at;
                continue;
            }
            if (b.size() < mbap_size + h.length) break;
            int tid = h.tid;
            std::string adu(b.substr(mbap_size, h.length));
            at += mbap_size + h.length;
            bool req = is_request(adu, role_, ctx_);
            std::string view = describe(adu, req, ctx_);
            view.insert(1, fmt::format(R"("tid":{},)", tid));
            emit_view(out, std::move(adu), {}, "modbus", std::move(view));
        }
        buf_.erase(0, at);
    }
    void sent(std::string_view adu) override { describe(adu, true, ctx_); }
    void finish(Frames&) override {
        if (!buf_.empty()) drop("truncated", buf_.size());
        buf_.clear();
    }

  private:
    Role role_;
    Context ctx_;
    std::string buf_;
};

class TcpEncoder final : public Encoder {
  public:
    Status encode(std::string_view adu, std::string& out) override {
        if (adu.size() < 2 || adu.size() > 254)
            return fail(Exit::bad_data,
                        fmt::format("a Modbus TCP payload is a unit id, a function code and up to "
                                    "252 data bytes; got {} byte(s)",
                                    adu.size()));
        tid_ = static_cast<uint16_t>(tid_ + 1);
        append_mbap(out, tid_, adu);
        return {};
    }

  private:
    uint16_t tid_ = 0;
};

} // namespace

Expected<Framing> modbus_rtu_framing(std::string_view arg, const FramingOptions& opts) {
    int64_t gap_us = 4000; // 3.5 characters of 11 bits at 9600 baud
    if (!arg.empty()) {
        std::string text(arg);
        if (text.find_first_not_of("0123456789.") == std::string::npos) text += "ms";
        auto gap = parse_duration(text);
        if (!gap || gap->count() <= 0)
            return fail(Exit::usage,
                        fmt::format("bad framing 'modbus-rtu:{}': the argument is the silence that "
                                    "ends a frame in milliseconds (modbus-rtu:2)",
                                    arg));
        gap_us = gap->count();
    }
    Framing f{arg.empty() ? "modbus-rtu" : fmt::format("modbus-rtu:{}", arg),
              [gap_us, e = opts.expect, max = opts.max_frame] {
                  return std::make_unique<RtuDecoder>(gap_us, e, max);
              },
              [] { return std::make_unique<RtuEncoder>(); }};
    f.view_key = "modbus";
    f.from_view = [](std::string_view json) { return modbus::encode(json); };
    return f;
}

Framing modbus_tcp_framing(const FramingOptions& opts) {
    Framing f{"modbus-tcp",
              [e = opts.expect, max = opts.max_frame] { return std::make_unique<TcpDecoder>(e, max); },
              [] { return std::make_unique<TcpEncoder>(); }};
    f.view_key = "modbus";
    f.from_view = [](std::string_view json) { return modbus::encode(json); };
    return f;
}

} // namespace m2m
