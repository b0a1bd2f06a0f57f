#pragma once
// Lines from a file descriptor (stdin), for the tools that read records: batched reads, a
// bounded line length (an overlong line is reported once, by number, and skipped in bounded
// memory), a last line without '\n' still counted.
#include <cstdint>
#include <functional>
#include <string>

namespace m2m {

class LineInput {
  public:
    LineInput(size_t max_line, std::function<void(const std::string& why)> on_overlong)
        : max_line_(max_line), on_overlong_(std::move(on_overlong)) {}
    /// One read(2) from `fd` into the buffer; end of input and errors set eof().
    void read_from(int fd);
    /// The next complete line (without '\n'), counting it; false when none is complete yet.
    bool next_line(std::string& line);
    bool has_line() const;
    bool eof() const { return eof_; }
    /// Input ended and every line was taken.
    bool exhausted() const { return eof_ && pos_ >= buf_.size(); }
    size_t buffered() const { return buf_.size() - pos_; }
    /// Whether to read more now: input has not ended, and either little is buffered or no whole
    /// line is (an overlong line is only known as such, and skipped, once more than --max-line
    /// of it has been read; stopping at a fixed amount below that hung every reader).
    bool wants_input() const { return !eof_ && (buffered() < (1 << 20) || !has_line()); }
    /// The number of the last line taken (1-based).
    uint64_t line_no() const { return line_no_; }

  private:
    size_t max_line_;
    std::function<void(const std::string&)> on_overlong_;
    std::string buf_;
    size_t pos_ = 0;
    bool eof_ = false;
    bool skipping_ = false; // inside an overlong line
    mutable size_t scanned_ =
        0; // buf_[pos_, scanned_) holds no '\n': a long line is searched once, not per read
    size_t find_newline() const;
    uint64_t line_no_ = 0;
};

/// Every line of a file (fd), read in bounded memory as LineInput does: on_line(line, number) for
/// each (a trailing '\r' removed) until it returns false; on_overlong(number, why) for a line
/// longer than max_line, which is skipped. False when the file could not be read (errno set).
bool for_each_line(int fd, size_t max_line,
                   const std::function<void(uint64_t, const std::string&)>& on_overlong,
                   const std::function<bool(std::string&, uint64_t)>& on_line);

} // namespace m2m
