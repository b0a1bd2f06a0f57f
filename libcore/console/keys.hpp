#pragma once
// Keystrokes from a terminal in raw mode: bytes become keys (text, Enter, arrows, Ctrl-letters),
// escape sequences split across reads included.
#include <string>
#include <string_view>
#include <vector>

namespace m2m::console {

struct Key {
    enum Kind { text, enter, backspace, del, left, right, up, down, home, end, ctrl } kind;
    std::string bytes = {}; // text: the bytes typed (a UTF-8 character, a tab)
    char letter = 0;        // ctrl: 'a' for Ctrl-A ... ('t' for Ctrl-T)
    bool operator==(const Key&) const = default;
};

class KeyDecoder {
  public:
    /// Appends the keys the bytes complete; an unfinished escape sequence waits for the next read.
    void feed(std::string_view bytes, std::vector<Key>& out);

  private:
    std::string pending_;
    bool after_cr_ = false; // the last key was a CR: a LF right after it is part of the same Enter
};

/// The control character of a key name: "ctrl-t" or "^T" -> 0x14. 0 when the name is not one.
char control_byte(std::string_view name);

} // namespace m2m::console
