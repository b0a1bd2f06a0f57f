#include "console/line_editor.hpp"
#include <fmt/format.h>

namespace m2m::console {

namespace {
bool continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}
constexpr size_t max_history = 500;
} // namespace

size_t LineEditor::prev_char(size_t at) const {
    if (at == 0) return 0;
    --at;
    while (at > 0 && continuation(buf_[at]))
        --at;
    return at;
}

size_t LineEditor::next_char(size_t at) const {
    if (at >= buf_.size()) return buf_.size();
    ++at;
    while (at < buf_.size() && continuation(buf_[at]))
        ++at;
    return at;
}

size_t LineEditor::cursor_column() const {
    size_t n = 0;
    for (size_t i = 0; i < cur_; ++i)
        if (!continuation(buf_[i])) ++n;
    return n;
}

void LineEditor::clear() {
    buf_.clear();
    cur_ = 0;
    hist_pos_ = history_.size();
}

std::string LineEditor::take() {
    std::string line = std::move(buf_);
    if (!line.empty() && (history_.empty() || history_.back() != line)) {
        history_.push_back(line);
        if (history_.size() > max_history) history_.pop_front();
    }
    clear();
    return line;
}

LineEditor::Result LineEditor::key(const Key& k) {
    switch (k.kind) {
    case Key::text:
        buf_.insert(cur_, k.bytes);
        cur_ += k.bytes.size();
        return Result::changed;
    case Key::enter:
        return Result::submit;
    case Key::backspace: {
        if (cur_ == 0) return Result::none;
        size_t from = prev_char(cur_);
        buf_.erase(from, cur_ - from);
        cur_ = from;
        return Result::changed;
    }
    case Key::del: {
        if (cur_ >= buf_.size()) return Result::none;
        buf_.erase(cur_, next_char(cur_) - cur_);
        return Result::changed;
    }
    case Key::left:
        cur_ = prev_char(cur_);
        return Result::changed;
    case Key::right:
        cur_ = next_char(cur_);
        return Result::changed;
    case Key::home:
        cur_ = 0;
        return Result::changed;
    case Key::end:
        cur_ = buf_.size();
        return Result::changed;
    case Key::up:
    case Key::down: {
        if (k.kind == Key::up) {
            if (hist_pos_ == 0) return Result::none;
            if (hist_pos_ == history_.size()) typed_ = buf_;
            --hist_pos_;
        } else {
            if (hist_pos_ >= history_.size()) return Result::none;
            ++hist_pos_;
        }
        buf_ = hist_pos_ == history_.size() ? typed_ : history_[hist_pos_];
        cur_ = buf_.size();
        return Result::changed;
    }
    case Key::ctrl:
        switch (k.letter) {
        case 'a':
            return key({Key::home});
        case 'e':
            return key({Key::end});
        case 'b':
            return key({Key::left});
        case 'f':
            return key({Key::right});
        case 'p':
            return key({Key::up});
        case 'n':
            return key({Key::down});
        case 'h':
            return key({Key::backspace});
        case 'u':
            buf_.erase(0, cur_);
            cur_ = 0;
            return Result::changed;
        case 'k':
            buf_.erase(cur_);
            return Result::changed;
        case 'w': { // the word before the cursor, and the spaces after it
            size_t from = cur_;
            while (from > 0 && buf_[from - 1] == ' ')
                --from;
            while (from > 0 && buf_[from - 1] != ' ')
                --from;
            buf_.erase(from, cur_ - from);
            cur_ = from;
            return Result::changed;
        }
        case 'c':
            return Result::interrupt;
        case 'd':
            if (buf_.empty()) return Result::end;
            return key({Key::del});
        case 'l':
            return Result::clear_screen;
        default:
            return Result::none;
        }
    }
    return Result::none;
}

Expected<std::string> unescape_line(std::string_view line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\\') {
            out += line[i];
            continue;
        }
        if (++i == line.size()) return fail(Exit::usage, "a '\\' at the end of the line: write \\\\ for one");
        switch (line[i]) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '0':
            out += '\0';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x': {
            auto hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            if (i + 2 >= line.size() || hex(line[i + 1]) < 0 || hex(line[i + 2]) < 0)
                return fail(Exit::usage, fmt::format("'\\x' at column {} needs two hex digits, as \\x0d", i));
            out += static_cast<char>(hex(line[i + 1]) * 16 + hex(line[i + 2]));
            i += 2;
            break;
        }
        default:
            return fail(Exit::usage,
                        fmt::format("unknown escape '\\{}' at column {}: use \\r \\n \\t \\0 \\\\ or \\xHH",
                                    line[i], i));
        }
    }
    return out;
}

} // namespace m2m::console
