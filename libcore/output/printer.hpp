#pragma once
// Where records go: JSON Lines for pipes, a human view for terminals, or hex / raw payloads.
#include "records/record.hpp"
#include "util/error.hpp"
#include <string>

namespace m2m {

enum class OutputFormat { jsonl, human, hex, raw };
enum class TsMode { iso, local, epoch, epoch_ms, epoch_us, rel, delta, none };

struct PrinterOptions {
    OutputFormat format = OutputFormat::jsonl;
    TsMode ts = TsMode::iso;
    bool color = false;
    bool hexdump = false; // every payload as a hexdump, text too (the console's hex view)
};

/// Resolves "auto" choices: human on a terminal, JSON Lines on a pipe; colour only on a terminal
/// without NO_COLOR or TERM=dumb.
PrinterOptions resolve_printer(int fd, const std::string& format, const std::string& ts,
                               const std::string& color);

class Printer {
  public:
    Printer(int fd, PrinterOptions opts) : fd_(fd), opts_(opts) {}
    /// Formats the record (received at `ts_us`, wall clock) into the output buffer.
    void print(const Record& r, int64_t ts_us);
    /// Whether the output is bare payloads (--format raw): then print_payload() is all a record needs.
    bool bare() const { return opts_.format == OutputFormat::raw; }
    /// A bare payload line, without building a record (--format raw).
    void print_payload(std::string_view payload) {
        buf_ += payload;
        buf_ += '\n';
    }
    /// Bytes as they are (iot-sub -F: the format says where lines end).
    void print_bytes(std::string_view bytes) { buf_ += bytes; }
    /// Moves what is formatted to `out` (a caller with its own output buffer).
    void take(std::string& out) {
        out += buf_;
        buf_.clear();
    }
    /// Changes the view while running (the console's menu).
    PrinterOptions& options() { return opts_; }
    /// Writes the buffer out. A closed pipe yields Exit::ok, which ends the tool quietly.
    Status flush();
    /// Whether enough is buffered to be worth a write now.
    bool should_flush() const { return buf_.size() >= 1 << 16 || opts_.format == OutputFormat::human; }

  private:
    void print_human(const Record& r, int64_t ts_us);
    int fd_;
    PrinterOptions opts_;
    std::string buf_;
    JsonlCache jsonl_cache_;
    std::string scratch_; // a JSON payload minified for --format raw
    int64_t first_us_ = -1, prev_us_ = -1;
};

} // namespace m2m
