#include "apps/pub/message.hpp"
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace m2m {

Expected<std::optional<Message>> single_message(const PubArgs& a) {
    Message m;
    m.line = 1;
    if (a.has_message) {
        m.body = a.message;
    } else if (!a.file.empty()) {
        std::ifstream f(a.file, std::ios::binary);
        if (!f) return fail(Exit::unavailable, fmt::format("cannot read '{}'", a.file));
        m.body.assign(std::istreambuf_iterator<char>(f), {});
        m.binary = true;
    } else if (a.stdin_message) {
        char buf[65536];
        ssize_t r;
        while ((r = ::read(STDIN_FILENO, buf, sizeof buf)) > 0)
            m.body.append(buf, static_cast<size_t>(r));
        m.binary = true;
    } else if (!a.null_message) {
        return std::optional<Message>();
    }
    return std::optional<Message>(std::move(m));
}

} // namespace m2m
