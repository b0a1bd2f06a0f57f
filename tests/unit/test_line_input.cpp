// LineInput: lines split across reads, a long line assembled from many reads, an overlong line
// reported once and skipped in bounded memory, a last line without '\n'.
#include "runtime/line_input.hpp"
#include <catch2/catch.hpp>
#include <string>
#include <unistd.h>
#include <vector>

using namespace m2m;

namespace {

struct Fed {
    std::vector<std::string> lines, overlong;
    size_t max_buffered = 0;
};

/// Feeds `text` to a LineInput through a pipe in pieces of `piece` bytes, taking lines as they come.
Fed feed(const std::string& text, size_t piece, size_t max_line) {
    Fed out;
    LineInput in(max_line, [&](const std::string& why) { out.overlong.push_back(why); });
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    std::string line;
    for (size_t at = 0; at < text.size(); at += piece) {
        size_t n = std::min(piece, text.size() - at);
        REQUIRE(write(fds[1], text.data() + at, n) == static_cast<ssize_t>(n));
        in.read_from(fds[0]);
        out.max_buffered = std::max(out.max_buffered, in.buffered());
        while (in.next_line(line))
            out.lines.push_back(line);
    }
    close(fds[1]);
    while (!in.eof())
        in.read_from(fds[0]);
    while (in.next_line(line))
        out.lines.push_back(line);
    CHECK(in.exhausted());
    close(fds[0]);
    return out;
}

} // namespace

TEST_CASE("line input assembles lines across reads") {
    std::string long_line(300000, 'x');
    auto f = feed("a\nbc\n" + long_line + "\nlast", 1000, 1 << 20);
    CHECK(f.overlong.empty());
    REQUIRE(f.lines.size() == 4);
    CHECK(f.lines[0] == "a");
    CHECK(f.lines[1] == "bc");
    CHECK(f.lines[2] == long_line);
    CHECK(f.lines[3] == "last");
}

TEST_CASE("line input skips an overlong line in bounded memory and goes on") {
    std::string text = "before\n" + std::string(50000, 'y') + "\nafter\n";
    auto f = feed(text, 700, 1000);
    REQUIRE(f.overlong.size() == 1);
    CHECK(f.overlong[0].find("longer than 1000 bytes") != std::string::npos);
    REQUIRE(f.lines.size() == 2);
    CHECK(f.lines[0] == "before");
    CHECK(f.lines[1] == "after");
    CHECK(f.max_buffered < 2000); // what is read of the overlong line is dropped as it comes
}

TEST_CASE("line input numbers lines, counting a skipped one") {
    LineInput in(4, nullptr);
    in = LineInput(4, [&](const std::string&) { CHECK(in.line_no() == 2); });
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    std::string text = "ab\nabcdefgh\ncd\n";
    REQUIRE(write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fds[1]);
    std::vector<std::pair<uint64_t, std::string>> got;
    std::string line;
    while (!in.exhausted()) {
        in.read_from(fds[0]);
        while (in.next_line(line))
            got.emplace_back(in.line_no(), line);
    }
    close(fds[0]);
    CHECK(got == std::vector<std::pair<uint64_t, std::string>>{{1, "ab"}, {3, "cd"}});
}
