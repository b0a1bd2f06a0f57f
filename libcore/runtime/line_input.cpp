#include "runtime/line_input.hpp"
#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <unistd.h>

namespace m2m {

void LineInput::read_from(int fd) {
    char chunk[65536];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0)
        buf_.append(chunk, static_cast<size_t>(n));
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        eof_ = true;
}

size_t LineInput::find_newline() const {
    size_t nl = buf_.find('\n', std::max(pos_, scanned_));
    scanned_ = nl == std::string::npos ? buf_.size() : nl;
    return nl;
}

bool LineInput::has_line() const {
    return find_newline() != std::string::npos || (eof_ && pos_ < buf_.size());
}

bool LineInput::next_line(std::string& line) {
    size_t nl;
    while ((nl = find_newline()) - pos_ > max_line_ &&
           (nl != std::string::npos || buf_.size() - pos_ > max_line_)) {
        // Overlong: report once, then skip to the end of the line.
        if (!skipping_)
            ++line_no_, on_overlong_(fmt::format("longer than {} bytes (--max-line); skipped", max_line_));
        skipping_ = nl == std::string::npos;
        if (skipping_) { // what is read of it so far is dropped: memory stays bounded
            buf_.clear();
            pos_ = scanned_ = 0;
            return false;
        }
        pos_ = nl + 1;
    }
    if (skipping_ && nl != std::string::npos) { // the tail of an overlong line
        pos_ = nl + 1;
        skipping_ = false;
        return next_line(line);
    }
    if (nl == std::string::npos) {
        if (!eof_ || pos_ >= buf_.size()) return false;
        if (skipping_) return pos_ = buf_.size(), false;
        nl = buf_.size(); // a last line without '\n'
    }
    line.assign(buf_, pos_, nl - pos_);
    pos_ = std::min(nl + 1, buf_.size());
    if (pos_ > (1 << 16)) buf_.erase(0, pos_), scanned_ -= std::min(scanned_, pos_), pos_ = 0;
    ++line_no_;
    return true;
}

bool for_each_line(int fd, size_t max_line,
                   const std::function<void(uint64_t, const std::string&)>& on_overlong,
                   const std::function<bool(std::string&, uint64_t)>& on_line) {
    LineInput in(max_line, nullptr);
    in = LineInput(max_line, [&](const std::string& why) { on_overlong(in.line_no(), why); });
    std::string line;
    for (;;) {
        while (in.next_line(line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!on_line(line, in.line_no())) return true;
        }
        if (in.exhausted()) return true;
        errno = 0;
        in.read_from(fd);
        if (in.eof() && errno != 0) return false;
    }
}

} // namespace m2m
