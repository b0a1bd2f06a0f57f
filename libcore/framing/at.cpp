// at: the AT command dialect of modems (V.250, 3GPP TS 27.007). Commands go out ending in CR;
// what comes back is split into lines (CR or LF end a line, empty lines are dropped), each with an
// `at` view saying what it is:
//   echo    the command itself, echoed back (until ATE0)
//   info    an information line of the reply (+CSQ: 17,99 to AT+CSQ)
//   final   the final result code that ends a reply: OK, CONNECT, and the failures ERROR,
//           +CME ERROR: n, +CMS ERROR: n, NO CARRIER, BUSY, NO ANSWER, NO DIALTONE ("ok": false)
//   urc     an unsolicited result code (RING, +CREG: ..., +CMTI: ...), which can come at any time,
//           even in the middle of a reply; a +X: line answering an AT+X command is info, not urc
#include "framing/codecs.hpp"
#include "records/record.hpp"
#include <array>
#include <cctype>
#include <fmt/format.h>

namespace m2m {

namespace {

constexpr std::array<std::string_view, 7> failures = {"ERROR", "+CME ERROR", "+CMS ERROR", "NO CARRIER",
                                                      "BUSY",  "NO ANSWER",  "NO DIALTONE"};
constexpr std::array<std::string_view, 18> urcs = {
    "RING",  "+CRING:", "+CLIP:", "+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:", "+CMTI:",  "+CMT:",
    "+CDS:", "+CBM:",   "+CUSD:", "+CGEV:", "+CIEV:",  "+CCWA:",  "+QIND:",   "+CPIN: ", "^"};

std::string upper(std::string_view s) {
    std::string u(s);
    for (auto& c : u)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
}

class AtDecoder final : public Decoder {
  public:
    using Decoder::Decoder;

    void sent(std::string_view payload) override {
        command_ = upper(payload);
        while (!command_.empty() && (command_.back() == '\r' || command_.back() == '\n'))
            command_.pop_back();
        echo_pending_ = true;
    }

    void do_feed(std::string_view bytes, int64_t, Frames& out) override {
        for (char c : bytes) {
            if (c == '\r' || c == '\n') {
                if (!line_.empty()) line_done(out);
                continue;
            }
            if (line_.size() == max_frame_) { // cut there; the rest of the line is counted
                ++overflow_;
                continue;
            }
            line_.push_back(c);
        }
    }

    void finish(Frames& out) override {
        if (!line_.empty()) line_done(out);
    }

  private:
    void line_done(Frames& out) {
        std::string line = std::move(line_);
        line_.clear();
        if (overflow_) { // an overlong line: marked and counted, never taken for a result code
            emit_cut(out, std::move(line), overflow_);
            overflow_ = 0;
            echo_pending_ = false;
            return;
        }
        std::string u = upper(line);
        std::string view;
        if (echo_pending_ && u == command_) {
            echo_pending_ = false;
            view = R"({"kind":"echo"})";
        } else if (u == "OK" || u.starts_with("CONNECT")) {
            view = fmt::format(R"({{"kind":"final","ok":true,"result":)");
            append_json_string(view, line);
            view += "}";
        } else if (at_failure_code(u)) {
            view = R"({"kind":"final","ok":false,"result":)";
            append_json_string(view, line);
            if (auto colon = line.find(':'); colon != std::string::npos && u.starts_with("+CM")) {
                std::string_view code = std::string_view(line).substr(colon + 1);
                while (!code.empty() && code.front() == ' ')
                    code.remove_prefix(1);
                bool numeric = !code.empty() && std::all_of(code.begin(), code.end(), [](unsigned char ch) {
                    return std::isdigit(ch);
                });
                if (numeric) view += fmt::format(R"(,"code":{})", code);
            }
            view += "}";
        } else if (is_urc(u)) {
            view = R"({"kind":"urc"})";
        } else {
            view = R"({"kind":"info"})";
        }
        if (!view.starts_with(R"({"kind":"echo")")) echo_pending_ = false; // an echo comes first or never
        emit_view(out, std::move(line), {}, "at", std::move(view));
    }

    /// A +X: line is the reply's information when the command was AT+X (AT+CREG? -> +CREG: 0,1).
    bool is_urc(const std::string& u) const {
        for (auto p : urcs) {
            if (!u.starts_with(p)) continue;
            if (p.front() != '+') return true;
            std::string name(p.substr(0, p.find(':')));
            return !command_.starts_with("AT" + name);
        }
        return false;
    }

    std::string line_;
    uint64_t overflow_ = 0;
    std::string command_;
    bool echo_pending_ = false;
};

class AtEncoder final : public Encoder {
  public:
    Status encode(std::string_view payload, std::string& out) override {
        if (payload.find_first_of("\r\n") != std::string_view::npos)
            return fail(Exit::bad_data, "an AT command is one line: it contains CR or LF");
        out.append(payload);
        out.push_back('\r');
        return {};
    }
};

} // namespace

bool at_failure_code(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
        line.remove_suffix(1);
    for (auto f : failures)
        if (line == f || (f.starts_with("+CM") && line.starts_with(f))) return true;
    return false;
}

Framing at_framing(const FramingOptions& opts) {
    return Framing{"at", [max = opts.max_frame] { return std::make_unique<AtDecoder>(max); },
                   [] { return std::make_unique<AtEncoder>(); }};
}

} // namespace m2m
