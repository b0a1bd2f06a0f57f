#include "output/printer.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <unistd.h>

namespace m2m {

PrinterOptions resolve_printer(int fd, const std::string& format, const std::string& ts,
                               const std::string& color) {
    PrinterOptions o;
    bool tty = isatty(fd);
    if (format == "human" || (format == "auto" && tty))
        o.format = OutputFormat::human;
    else if (format == "hex")
        o.format = OutputFormat::hex;
    else if (format == "raw")
        o.format = OutputFormat::raw;
    else
        o.format = OutputFormat::jsonl;
    const char* term = std::getenv("TERM");
    bool no_color = std::getenv("NO_COLOR") && *std::getenv("NO_COLOR");
    o.color =
        color == "always" || (color == "auto" && tty && !no_color && !(term && std::string(term) == "dumb"));
    if (ts == "local")
        o.ts = TsMode::local;
    else if (ts == "epoch")
        o.ts = TsMode::epoch;
    else if (ts == "epoch-ms")
        o.ts = TsMode::epoch_ms;
    else if (ts == "epoch-us")
        o.ts = TsMode::epoch_us;
    else if (ts == "rel")
        o.ts = TsMode::rel;
    else if (ts == "delta")
        o.ts = TsMode::delta;
    return o;
}

void Printer::print(const Record& r, int64_t ts_us) {
    switch (opts_.format) {
    case OutputFormat::jsonl:
        append_jsonl(buf_, r, jsonl_cache_);
        break;
    case OutputFormat::raw:
        buf_ += r.payload_view(scratch_);
        buf_ += '\n';
        break;
    case OutputFormat::hex:
        append_hex(buf_, r.payload_bytes());
        buf_ += '\n';
        break;
    case OutputFormat::human:
        print_human(r, ts_us);
        break;
    }
}

void Printer::print_human(const Record& r, int64_t ts_us) {
    auto paint = [&](const char* code, std::string_view s) {
        if (opts_.color)
            fmt::format_to(std::back_inserter(buf_), "\x1b[{}m{}\x1b[0m", code, s);
        else
            buf_ += s;
    };
    if (first_us_ < 0) first_us_ = prev_us_ = ts_us;
    std::string when;
    switch (opts_.ts) {
    case TsMode::iso:
        when = format_rfc3339(ts_us);
        break;
    case TsMode::local: {
        time_t secs = static_cast<time_t>(ts_us / 1000000);
        tm t{};
        localtime_r(&secs, &t);
        char buf[40], zone[8];
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
        strftime(zone, sizeof zone, "%z", &t);
        when = fmt::format("{}.{:06} {}", buf, ts_us % 1000000, zone);
        break;
    }
    case TsMode::none:
        break;
    case TsMode::epoch:
        when = fmt::format("{}.{:06}", ts_us / 1000000, ts_us % 1000000);
        break;
    case TsMode::epoch_ms:
        when = fmt::format("{}", ts_us / 1000);
        break;
    case TsMode::epoch_us:
        when = fmt::format("{}", ts_us);
        break;
    case TsMode::rel:
        when = fmt::format("+{:.6f}", (ts_us - first_us_) / 1e6);
        break;
    case TsMode::delta:
        when = fmt::format("+{:.6f}", (ts_us - prev_us_) / 1e6);
        break;
    }
    prev_us_ = ts_us;
    if (!when.empty()) {
        paint("2", when);
        buf_ += "  ";
    }
    paint("36", r.src.empty() ? std::string_view("-") : std::string_view(r.src));
    if (!r.dir.empty()) {
        buf_ += "  ";
        paint(r.dir == "rx" ? "32" : "33", r.dir);
    }
    if (r.topic) {
        buf_ += "  ";
        paint("35", *r.topic);
    }
    for (auto& f : r.extra) { // m2m-send --reply: which request a frame answers, or that none did
        if (f.key == "reply_to") {
            buf_ += "  ";
            paint("34", "re:" + f.raw_value);
        } else if (f.key == "unsolicited" && f.raw_value == "true") {
            buf_ += "  ";
            paint("33", "unsolicited");
        }
    }
    std::string bytes = r.payload_bytes();
    if ((r.kind == PayloadKind::text || r.kind == PayloadKind::json) && !opts_.hexdump) {
        buf_ += "  ";
        // Control bytes never reach the terminal raw.
        for (unsigned char c : bytes) {
            if (c == '\n')
                buf_ += "\\n";
            else if (c == '\r')
                buf_ += "\\r";
            else if (c == '\t')
                buf_ += "\\t";
            else if (c < 0x20 || c == 0x7f)
                fmt::format_to(std::back_inserter(buf_), "\\x{:02x}", c);
            else
                buf_ += static_cast<char>(c);
        }
    } else if (r.kind != PayloadKind::none) {
        fmt::format_to(std::back_inserter(buf_), "  {} bytes", bytes.size());
        for (size_t off = 0; off < bytes.size(); off += 16) {
            fmt::format_to(std::back_inserter(buf_), "\n    {:04x}  ", off);
            std::string ascii;
            for (size_t i = off; i < off + 16; ++i) {
                if (i < bytes.size()) {
                    auto c = static_cast<unsigned char>(bytes[i]);
                    fmt::format_to(std::back_inserter(buf_), "{:02x} ", c);
                    ascii += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.';
                } else {
                    buf_ += "   ";
                }
                if (i == off + 7) buf_ += ' ';
            }
            buf_ += " |" + ascii + "|";
        }
    }
    if (!r.err.empty()) {
        buf_ += "  ";
        paint("31", "! " + r.err);
    }
    buf_ += '\n';
}

Status Printer::flush() {
    size_t done = 0;
    while (done < buf_.size()) {
        ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            buf_.clear();
            if (errno == EPIPE) return fail(Exit::ok, "output closed");
            return fail(Exit::runtime, fmt::format("cannot write output: {}", std::strerror(errno)));
        }
        done += static_cast<size_t>(n);
    }
    buf_.clear();
    return {};
}

} // namespace m2m
