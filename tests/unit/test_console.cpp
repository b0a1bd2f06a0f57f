// The console's pieces without a terminal: keys from bytes, the input line, escapes, line-ending
// maps and the modem-line pulse sequence.
#include "console/keys.hpp"
#include "console/line_editor.hpp"
#include "links/line_control.hpp"
#include <catch2/catch.hpp>
#include <sys/ioctl.h>

using namespace m2m;
using namespace m2m::console;

namespace {
std::vector<Key> keys_of(std::initializer_list<std::string_view> chunks) {
    KeyDecoder d;
    std::vector<Key> out;
    for (auto c : chunks)
        d.feed(c, out);
    return out;
}
void type(LineEditor& e, std::string_view bytes) {
    for (auto& k : keys_of({bytes}))
        e.key(k);
}
} // namespace

TEST_CASE("keys: text, Enter, Backspace, Ctrl-letters") {
    auto k = keys_of({"aT\r\x7f\x14\x03"});
    REQUIRE(k.size() == 6);
    CHECK(k[0] == Key{Key::text, "a"});
    CHECK(k[1] == Key{Key::text, "T"});
    CHECK(k[2].kind == Key::enter);
    CHECK(k[3].kind == Key::backspace);
    CHECK(k[4] == Key{Key::ctrl, {}, 't'});
    CHECK(k[5] == Key{Key::ctrl, {}, 'c'});
}

TEST_CASE("keys: CR LF from a paste is one Enter") {
    auto k = keys_of({"AT\r\nATI\r"});
    REQUIRE(k.size() == 7);
    CHECK(k[2].kind == Key::enter);
    CHECK(k[6].kind == Key::enter);
}

TEST_CASE("keys: CR and LF in separate reads are still one Enter, LF alone is one") {
    auto k = keys_of({"a\r", "\nb\n\n"});
    REQUIRE(k.size() == 5);
    CHECK(k[1].kind == Key::enter);
    CHECK(k[2] == Key{Key::text, "b"});
    CHECK(k[3].kind == Key::enter);
    CHECK(k[4].kind == Key::enter);
}

TEST_CASE("keys: escape sequences, also split across reads") {
    auto k = keys_of({"\x1b[A\x1b", "[B\x1bO", "H\x1b[3", "~\x1b[15~x"});
    REQUIRE(k.size() == 5);
    CHECK(k[0].kind == Key::up);
    CHECK(k[1].kind == Key::down);
    CHECK(k[2].kind == Key::home);
    CHECK(k[3].kind == Key::del);
    CHECK(k[4] == Key{Key::text, "x"}); // F5 (ESC [15~) is not for the line: ignored
}

TEST_CASE("keys: a UTF-8 character split across reads is one key") {
    auto k = keys_of({"\xc3", "\xa9"});
    REQUIRE(k.size() == 1);
    CHECK(k[0] == Key{Key::text, "\xc3\xa9"});
}

TEST_CASE("keys: menu key names") {
    CHECK(control_byte("ctrl-t") == 0x14);
    CHECK(control_byte("^A") == 0x01);
    CHECK(control_byte("Ctrl-X") == 0x18);
    CHECK(control_byte("t") == 0);
    CHECK(control_byte("ctrl-1") == 0);
}

TEST_CASE("line editor: insert, move, delete, kill") {
    LineEditor e;
    type(e, "AT+CSQ");
    CHECK(e.text() == "AT+CSQ");
    type(e, "\x1b[D\x1b[D\x1b[D\x7f"); // left three times, backspace: the '+' goes
    CHECK(e.text() == "ATCSQ");
    CHECK(e.cursor_column() == 2);
    type(e, "\x01X"); // Ctrl-A, then insert at the start
    CHECK(e.text() == "XATCSQ");
    type(e, "\x1b[3~"); // delete under the cursor
    CHECK(e.text() == "XTCSQ");
    type(e, "\x0b"); // Ctrl-K: to the end
    CHECK(e.text() == "X");
    type(e, "\x05 one two\x17"); // Ctrl-E, words, Ctrl-W
    CHECK(e.text() == "X one ");
    type(e, "\x15"); // Ctrl-U
    CHECK(e.text().empty());
}

TEST_CASE("line editor: cursor counts characters, not bytes") {
    LineEditor e;
    type(e, "h\xc3\xa9llo\x1b[D\x1b[D\x1b[D\x7f");
    CHECK(e.text() == "hllo");
    CHECK(e.cursor_column() == 1);
}

TEST_CASE("line editor: submit, history up and down, the typed line kept") {
    LineEditor e;
    KeyDecoder d;
    auto submit = [&](std::string_view s) {
        type(e, s);
        CHECK(e.key({Key::enter}) == LineEditor::Result::submit);
        return e.take();
    };
    CHECK(submit("AT") == "AT");
    CHECK(submit("ATI") == "ATI");
    CHECK(submit("ATI") == "ATI"); // a repeat is one history entry
    type(e, "AT+C");
    type(e, "\x1b[A");
    CHECK(e.text() == "ATI");
    type(e, "\x1b[A");
    CHECK(e.text() == "AT");
    CHECK(e.key({Key::up}) == LineEditor::Result::none); // the oldest
    type(e, "\x1b[B\x1b[B");
    CHECK(e.text() == "AT+C"); // back to what was being typed
}

TEST_CASE("line editor: Ctrl-C, Ctrl-D, Ctrl-L") {
    LineEditor e;
    CHECK(e.key({Key::ctrl, {}, 'c'}) == LineEditor::Result::interrupt);
    CHECK(e.key({Key::ctrl, {}, 'd'}) == LineEditor::Result::end); // on an empty line
    type(e, "ab\x1b[D");
    CHECK(e.key({Key::ctrl, {}, 'd'}) == LineEditor::Result::changed); // deletes under the cursor
    CHECK(e.text() == "a");
    CHECK(e.key({Key::ctrl, {}, 'l'}) == LineEditor::Result::clear_screen);
}

TEST_CASE("typed escapes for CR, LF, tab, NUL, backslash and hex bytes, and bad ones named") {
    CHECK(*unescape_line("AT\\r") == "AT\r");
    CHECK(*unescape_line("\\x01\\x03\\x00\\x00") == std::string("\x01\x03\x00\x00", 4));
    CHECK(*unescape_line("a\\\\b\\tc\\n\\0") == std::string("a\\b\tc\n\0", 7));
    auto bad = unescape_line("\\q");
    REQUIRE(!bad);
    CHECK(bad.error().message.find("unknown escape '\\q'") != std::string::npos);
    auto short_hex = unescape_line("\\x4");
    REQUIRE(!short_hex);
    CHECK(short_hex.error().message.find("two hex digits") != std::string::npos);
    CHECK(!unescape_line("end\\"));
}

TEST_CASE("line-ending maps with tio's names") {
    auto m = ByteMap::parse("ICRNL,ONLCRNL");
    REQUIRE(m);
    CHECK(m->input("a\rb\n") == "a\nb\n");
    CHECK(m->output("a\nb") == "a\r\nb");
    CHECK(ByteMap::parse("igncr")->input("OK\r\n") == "OK\n");
    CHECK(ByteMap::parse("INLCRNL")->input("x\n") == "x\r\n");
    CHECK(ByteMap::parse("INLCR")->input("x\n") == "x\r");
    CHECK(ByteMap::parse("OCRNL,OLTU,ODELBS")->output("at\r\x7f") == "AT\n\x08");
    CHECK(!ByteMap::parse("")->maps_input());
    auto bad = ByteMap::parse("ICRNL,CRLF");
    REQUIRE(!bad);
    CHECK(bad.error().message.find("no map 'CRLF'") != std::string::npos);
    CHECK(bad.error().message.find("ONLCRNL") != std::string::npos);
}

TEST_CASE("a pulse flips the lines from their state for the duration, then back") {
    using S = LineStep;
    auto both_up = TIOCM_DTR | TIOCM_RTS;
    // DTR high (as a port is after open): low for 100 ms, then high again -- the Arduino reset
    CHECK(*pulse_plan("dtr:100ms", both_up) ==
          std::vector<S>{{S::drop, TIOCM_DTR, 0}, {S::wait, 0, 100000}, {S::raise, TIOCM_DTR, 0}});
    // a line that is low pulses high
    CHECK(*pulse_plan("rts:50ms", TIOCM_DTR) ==
          std::vector<S>{{S::raise, TIOCM_RTS, 0}, {S::wait, 0, 50000}, {S::drop, TIOCM_RTS, 0}});
    // both lines, each from its own state
    CHECK(*pulse_plan("dtr+rts:1s", TIOCM_DTR) == std::vector<S>{{S::drop, TIOCM_DTR, 0},
                                                                 {S::raise, TIOCM_RTS, 0},
                                                                 {S::wait, 0, 1000000},
                                                                 {S::raise, TIOCM_DTR, 0},
                                                                 {S::drop, TIOCM_RTS, 0}});
    for (auto bad : {"dtr", "cts:100ms", "dtr:0ms", "dtr:soon", "dtr:1m", ":100ms"}) {
        auto p = pulse_plan(bad, both_up);
        CHECK(!p);
        if (!p) CHECK(p.error().message.find("expected dtr:100ms") != std::string::npos);
    }
}
