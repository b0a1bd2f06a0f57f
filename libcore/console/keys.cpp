#include "console/keys.hpp"
#include <cctype>

namespace m2m::console {

namespace {

/// Length of the escape sequence at the start of `s`, 0 when it is not complete yet.
size_t escape_length(std::string_view s) {
    if (s.size() < 2) return 0;
    if (s[1] == '[') { // CSI: parameters, then one final byte 0x40-0x7e
        for (size_t i = 2; i < s.size(); ++i)
            if (s[i] >= 0x40 && s[i] <= 0x7e) return i + 1;
        return 0;
    }
    if (s[1] == 'O') return s.size() >= 3 ? 3 : 0; // SS3: ESC O A
    return 2;                                      // Alt+key: ESC then the key
}

void escape_key(std::string_view seq, std::vector<Key>& out) {
    static const struct {
        std::string_view seq;
        Key::Kind kind;
    } known[] = {{"\x1b[A", Key::up},    {"\x1b[B", Key::down},  {"\x1b[C", Key::right},
                 {"\x1b[D", Key::left},  {"\x1bOA", Key::up},    {"\x1bOB", Key::down},
                 {"\x1bOC", Key::right}, {"\x1bOD", Key::left},  {"\x1b[H", Key::home},
                 {"\x1b[F", Key::end},   {"\x1bOH", Key::home},  {"\x1bOF", Key::end},
                 {"\x1b[1~", Key::home}, {"\x1b[7~", Key::home}, {"\x1b[4~", Key::end},
                 {"\x1b[8~", Key::end},  {"\x1b[3~", Key::del}};
    for (auto& k : known)
        if (k.seq == seq) return out.push_back({k.kind});
    // other sequences (function keys, Alt+key) are not for the line: ignored
}

size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xe0) == 0xc0) return 2;
    if ((lead & 0xf0) == 0xe0) return 3;
    if ((lead & 0xf8) == 0xf0) return 4;
    return 1; // a stray continuation byte: on its own
}

} // namespace

void KeyDecoder::feed(std::string_view bytes, std::vector<Key>& out) {
    pending_.append(bytes);
    std::string_view s = pending_;
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c != '\n') after_cr_ = false;
        if (c == 0x1b) {
            size_t n = escape_length(s.substr(i));
            if (!n) break; // wait for the rest
            escape_key(s.substr(i, n), out);
            i += n;
        } else if (c == '\n' && after_cr_) { // CR LF from a paste is one Enter, even split
            after_cr_ = false;
            ++i;
            continue;
        } else if (c == '\r' || c == '\n') {
            out.push_back({Key::enter});
            ++i;
            after_cr_ = c == '\r';
            continue;
        } else if (c == 0x7f || c == 0x08) {
            out.push_back({Key::backspace});
            ++i;
        } else if (c == '\t') {
            out.push_back({Key::text, "\t"});
            ++i;
        } else if (c < 0x20) {
            out.push_back({Key::ctrl, {}, static_cast<char>('a' + c - 1)});
            ++i;
        } else {
            size_t n = utf8_length(c);
            if (i + n > s.size()) break; // the rest of the character comes next
            out.push_back({Key::text, std::string(s.substr(i, n))});
            i += n;
        }
    }
    pending_.erase(0, i);
}

char control_byte(std::string_view name) {
    std::string n;
    for (char c : name)
        n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    char letter = 0;
    if (n.size() == 6 && n.starts_with("ctrl-"))
        letter = n[5];
    else if (n.size() == 2 && n[0] == '^')
        letter = n[1];
    if (letter < 'a' || letter > 'z') return 0;
    return static_cast<char>(letter - 'a' + 1);
}

} // namespace m2m::console
