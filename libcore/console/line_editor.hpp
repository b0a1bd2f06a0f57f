#pragma once
// The console's input line: editing (cursor, words, kill), history (up/down), and the escapes
// that let a line carry any byte (\r \n \t \xHH \\).
#include "console/keys.hpp"
#include "util/error.hpp"
#include <deque>
#include <string>

namespace m2m::console {

class LineEditor {
  public:
    enum class Result { none, changed, submit, interrupt, end, clear_screen };
    /// Applies a key; `submit` means take() holds a finished line.
    Result key(const Key& k);
    /// The finished line (added to the history), and a fresh empty one.
    std::string take();
    const std::string& text() const { return buf_; }
    /// Characters (not bytes) before the cursor: where the terminal cursor goes.
    size_t cursor_column() const;
    void clear();

  private:
    std::string buf_;
    size_t cur_ = 0; // byte offset, always at a character boundary
    std::deque<std::string> history_;
    size_t hist_pos_ = 0; // == history_.size(): the line being typed
    std::string typed_;   // the line being typed while the history is browsed
    size_t prev_char(size_t at) const;
    size_t next_char(size_t at) const;
};

/// The bytes a typed line stands for: \r \n \t \0 \\ and \xHH read as in C; a bad escape is named.
Expected<std::string> unescape_line(std::string_view line);

} // namespace m2m::console
