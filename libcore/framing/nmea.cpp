// nmea: NMEA 0183 sentences, "$GPGGA,...*hh" (and "!AIVDM" encapsulation) ending in CR LF. The
// checksum is verified; the fields are split into the `nmea` view, with GGA, RMC, VTG and GSV
// decoded by name (positions in decimal degrees).
#include "framing/codecs.hpp"
#include "records/record.hpp"
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fmt/format.h>

namespace m2m {

namespace {

int xor_of(std::string_view s) {
    int x = 0;
    for (unsigned char c : s)
        x ^= c;
    return x;
}

std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> f;
    for (;;) {
        auto c = s.find(',');
        f.push_back(s.substr(0, c));
        if (c == std::string_view::npos) return f;
        s.remove_prefix(c + 1);
    }
}

/// A number field as JSON: null when empty or not a number.
std::string num(std::string_view f) {
    double v;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (f.empty() || ec != std::errc() || p != f.data() + f.size()) return "null";
    return fmt::format("{}", v);
}

/// ddmm.mmmm with its hemisphere as signed decimal degrees.
std::string degrees(std::string_view f, std::string_view hemi, int deg_digits) {
    if (f.size() < static_cast<size_t>(deg_digits)) return "null";
    double d, m;
    auto [p1, e1] = std::from_chars(f.data(), f.data() + deg_digits, d);
    auto [p2, e2] = std::from_chars(f.data() + deg_digits, f.data() + f.size(), m);
    if (e1 != std::errc() || e2 != std::errc() || p2 != f.data() + f.size()) return "null";
    double v = d + m / 60.0;
    if (hemi == "S" || hemi == "W") v = -v;
    return fmt::format("{:.7f}", v);
}

std::string str(std::string_view f) {
    std::string s;
    append_json_string(s, f);
    return s;
}

std::string view_of(std::string_view body) { // without '$' and "*hh"
    auto f = split(body);
    std::string_view addr = f[0];
    std::string talker(addr.substr(0, addr.size() >= 5 ? addr.size() - 3 : 0));
    std::string type(addr.substr(talker.size()));
    std::string v = fmt::format(R"({{"talker":{},"type":{},"fields":[)", str(talker), str(type));
    for (size_t i = 1; i < f.size(); ++i)
        v += (i > 1 ? "," : "") + str(f[i]);
    v += "]";
    auto at = [&](size_t i) { return i < f.size() ? f[i] : std::string_view{}; };
    if (type == "GGA" && f.size() >= 10) {
        v += fmt::format(R"(,"time":{},"lat":{},"lon":{},"quality":{},"sats":{},"hdop":{},"alt":{})",
                         str(at(1)), degrees(at(2), at(3), 2), degrees(at(4), at(5), 3), num(at(6)),
                         num(at(7)), num(at(8)), num(at(9)));
    } else if (type == "RMC" && f.size() >= 10) {
        v += fmt::format(R"(,"time":{},"status":{},"lat":{},"lon":{},"speed_kn":{},"course":{},"date":{})",
                         str(at(1)), str(at(2)), degrees(at(3), at(4), 2), degrees(at(5), at(6), 3),
                         num(at(7)), num(at(8)), str(at(9)));
    } else if (type == "VTG" && f.size() >= 8) {
        v += fmt::format(R"(,"course":{},"course_mag":{},"speed_kn":{},"speed_kmh":{})", num(at(1)),
                         num(at(3)), num(at(5)), num(at(7)));
    } else if (type == "GSV" && f.size() >= 4) {
        v += fmt::format(R"(,"messages":{},"message":{},"in_view":{},"sats":[)", num(at(1)), num(at(2)),
                         num(at(3)));
        for (size_t i = 4; i + 3 < f.size() + 0 && i + 3 <= f.size(); i += 4) {
            if (i + 3 >= f.size() && at(i).empty()) break;
            v += fmt::format(R"({}{{"prn":{},"elev":{},"az":{},"snr":{}}})", i > 4 ? "," : "", num(at(i)),
                             num(at(i + 1)), num(at(i + 2)), num(at(i + 3)));
        }
        v += "]";
    }
    return v + "}";
}

class NmeaDecoder final : public Decoder {
  public:
    using Decoder::Decoder;
    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        for (char c : bytes) {
            if (c == '$' || c == '!') {
                if (garbage_) flush_garbage(); // one drop per run of garbage, however it was read
                if (!cur_.empty()) cut();      // a new sentence began before the last one ended
                cur_.push_back(c);
            } else if (c == '\n' || c == '\r') {
                if (!cur_.empty()) sentence(out);
            } else if (cur_.empty()) {
                ++garbage_;
            } else if (cur_.size() >= max_frame_) {
                cut(), ++garbage_;
            } else {
                cur_.push_back(c);
            }
        }
    }
    void finish(Frames& out) override {
        if (!cur_.empty()) sentence(out);
        if (garbage_) flush_garbage();
    }

  private:
    void flush_garbage() {
        drop("garbage", garbage_);
        garbage_ = 0;
    }
    void cut() {
        drop("truncated", cur_.size());
        cur_.clear();
    }
    void sentence(Frames& out) {
        std::string s = std::move(cur_);
        cur_.clear();
        std::string_view body = std::string_view(s).substr(1);
        auto star = body.rfind('*');
        std::string err;
        if (star == std::string_view::npos) {
            err = "no checksum (*hh)";
        } else {
            std::string_view hh = body.substr(star + 1);
            int want = -1;
            if (hh.size() == 2) std::from_chars(hh.data(), hh.data() + 2, want, 16);
            body = body.substr(0, star);
            int got = xor_of(body);
            if (want < 0)
                err = fmt::format("bad checksum field '*{}'", hh);
            else if (want != got)
                err = fmt::format("checksum mismatch: sentence says {:02X}, computed {:02X}", want, got);
        }
        std::string view = err.empty() ? view_of(body) : std::string{};
        emit_view(out, std::move(s), std::move(err), "nmea", std::move(view));
    }
    std::string cur_;
    uint64_t garbage_ = 0;
};

class NmeaEncoder final : public Encoder {
  public:
    Status encode(std::string_view s, std::string& out) override {
        if (s.empty() || (s[0] != '$' && s[0] != '!') ||
            s.find_first_of("\r\n$!", 1) != std::string_view::npos)
            return fail(Exit::bad_data,
                        "an NMEA sentence starts with '$' or '!' and holds no other '$', '!' or "
                        "line break");
        auto star = s.find('*');
        if (star != std::string_view::npos &&
            (star + 3 != s.size() || !std::isxdigit(static_cast<unsigned char>(s[star + 1])) ||
             !std::isxdigit(static_cast<unsigned char>(s[star + 2]))))
            return fail(Exit::bad_data,
                        "'*' in an NMEA sentence starts its checksum: two hex digits at the end");
        out.append(s); // a sentence with its own *hh goes as it is (a wrong one too: devices get tested)
        if (star == std::string_view::npos) out += fmt::format("*{:02X}", xor_of(s.substr(1)));
        out += "\r\n";
        return {};
    }
};

} // namespace

Framing nmea_framing(const FramingOptions& opts) {
    return Framing{"nmea", [max = opts.max_frame] { return std::make_unique<NmeaDecoder>(max); },
                   [] { return std::make_unique<NmeaEncoder>(); }};
}

} // namespace m2m
