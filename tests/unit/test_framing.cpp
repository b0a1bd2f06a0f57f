#include "framing/framing.hpp"
#include <catch2/catch.hpp>
#include <random>

using namespace m2m;

namespace {

Frames decode(const Framing& f, std::string_view stream, std::vector<size_t> cuts = {},
              DecoderStats* stats = nullptr) {
    auto dec = f.decoder();
    Frames out;
    size_t at = 0;
    for (size_t cut : cuts) {
        dec->feed(stream.substr(at, cut - at), 0, out);
        at = cut;
    }
    dec->feed(stream.substr(at), 0, out);
    dec->finish(out);
    if (stats) *stats = dec->stats();
    return out;
}

std::string encode_all(const Framing& f, const std::vector<std::string>& payloads) {
    auto enc = f.encoder();
    std::string out;
    for (auto& p : payloads)
        REQUIRE(enc->encode(p, out));
    return out;
}

std::vector<std::string> random_payloads(std::mt19937& rng, size_t n, size_t max_len, bool allow_empty) {
    std::vector<std::string> v;
    const char specials[] = {'\x00', '\xC0', '\xDB', '\x0A', '\x0D', '\xDC', '\xDD', '\xFF'};
    for (size_t i = 0; i < n; ++i) {
        size_t len = std::uniform_int_distribution<size_t>(allow_empty ? 0 : 1, max_len)(rng);
        std::string p(len, '\0');
        for (auto& c : p)
            c = rng() % 4 == 0 ? specials[rng() % sizeof specials] : static_cast<char>(rng() & 0xFF);
        v.push_back(p);
    }
    return v;
}

std::vector<std::string> bytes_of(const Frames& frames) {
    std::vector<std::string> v;
    for (auto& f : frames)
        v.push_back(f.bytes);
    return v;
}

} // namespace

TEST_CASE("binary framings round-trip random payloads, whatever the split") {
    std::mt19937 rng(42);
    for (const char* spec : {"slip", "cobs", "len:u8", "len:u16be", "len:u16le", "len:u32be", "len:u32le"}) {
        SECTION(spec) {
            auto f = make_framing(spec);
            REQUIRE(f);
            auto payloads = random_payloads(rng, 300, std::string(spec) == "len:u8" ? 255 : 600,
                                            std::string(spec) != "slip");
            std::string stream = encode_all(*f, payloads);
            CHECK(bytes_of(decode(*f, stream)) == payloads);
            for (int trial = 0; trial < 20; ++trial) {
                std::vector<size_t> cuts;
                for (size_t at = 0; at < stream.size(); at += 1 + rng() % 97)
                    cuts.push_back(at);
                CHECK(bytes_of(decode(*f, stream, cuts)) == payloads);
            }
        }
    }
}

TEST_CASE("COBS encodes canonically around 254-byte blocks") {
    auto f = make_framing("cobs");
    std::string block(254, 'x');
    std::string out;
    REQUIRE(f->encoder()->encode(block, out));
    CHECK(out.size() == 1 + 1 + 254 + 1); // leading delimiter, code 0xFF, data, delimiter
    for (std::string p :
         {block + std::string(1, '\0'), std::string(1, '\0') + block, block + block, std::string()}) {
        std::string s;
        REQUIRE(f->encoder()->encode(p, s));
        CHECK(bytes_of(decode(*f, s)) == std::vector<std::string>{p});
    }
}

TEST_CASE("every split of a stream yields the same frames") {
    for (const char* spec : {"line", "crlf", "cr", "slip", "cobs", "len:u16be", "fixed:3"}) {
        SECTION(spec) {
            auto f = make_framing(spec, {.max_frame = 8});
            std::string stream =
                encode_all(*f, {"abc", "xyz", "123"}) + std::string("\xC0\x00garbage\r\n\r", 12);
            auto whole = decode(*f, stream);
            for (size_t i = 0; i <= stream.size(); ++i)
                for (size_t j = i; j <= stream.size(); ++j) {
                    auto parts = decode(*f, stream, {i, j});
                    REQUIRE(bytes_of(parts) == bytes_of(whole));
                }
        }
    }
}

TEST_CASE("line framing: delimiters, last line, empty lines") {
    auto f = make_framing("line");
    CHECK(bytes_of(decode(*f, "a\n\nb\r\nlast")) == std::vector<std::string>{"a", "", "b\r", "last"});
    auto crlf = make_framing("crlf");
    CHECK(bytes_of(decode(*crlf, "a\nb\r\nc\r\n")) == std::vector<std::string>{"a\nb", "c"});
    auto cr = make_framing("line:cr");
    CHECK(bytes_of(decode(*cr, "a\rb\r")) == std::vector<std::string>{"a", "b"});
    std::string out;
    CHECK_FALSE(f->encoder()->encode("two\nlines", out));
}

TEST_CASE("overlong frames are cut at the limit and reported") {
    for (const char* spec : {"line", "slip", "cobs", "len:u16be"}) {
        SECTION(spec) {
            auto big = make_framing(spec);
            auto f = make_framing(spec, {.max_frame = 10});
            std::string stream = encode_all(*big, {"short", std::string(25, 'L'), "after"});
            DecoderStats st;
            auto frames = decode(*f, stream, {}, &st);
            REQUIRE(frames.size() == 3);
            CHECK(frames[0].bytes == "short");
            CHECK(frames[1].bytes == std::string(10, 'L'));
            CHECK(frames[1].err.find("overlong") != std::string::npos);
            CHECK(frames[2].bytes == "after");
            CHECK(frames[2].err.empty());
            CHECK(st.drops["overlong"] == 1);
            CHECK(st.dropped_bytes["overlong"] == 15);
        }
    }
}

TEST_CASE("frames reuse their slots from one batch to the next, nothing of the last frame left") {
    // m2m-listen clears the batch after each read and feeds the next into the same slots (#18)
    auto f = make_framing("slip", {.max_frame = 300});
    auto dec = f->decoder();
    Frames out;
    dec->feed(encode_all(*f, {std::string(400, 'x'), "second"}), 0, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].err.find("overlong") != std::string::npos);
    out.clear();
    CHECK(out.empty());
    dec->feed(encode_all(*f, {"ab", "cd", "ef"}), 0, out); // shorter frames into the used slots
    REQUIRE(out.size() == 3);
    CHECK(out[0].bytes == "ab");
    CHECK(out[0].err.empty()); // the cut frame's err is gone
    CHECK(out[1].bytes == "cd");
    CHECK(out[2].bytes == "ef");
    std::vector<std::string> seen;
    for (auto& fr : out)
        seen.push_back(fr.bytes);
    CHECK(seen == std::vector<std::string>{"ab", "cd", "ef"});
}

TEST_CASE("garbage before the first frame is skipped and counted") {
    for (const char* spec : {"slip", "cobs"}) {
        SECTION(spec) {
            auto f = make_framing(spec);
            std::string stream = "\x11\x22\x33junk" + encode_all(*f, {"one", "two"});
            DecoderStats st;
            CHECK(bytes_of(decode(*f, stream, {}, &st)) == std::vector<std::string>{"one", "two"});
            CHECK(st.drops["garbage"] == 1);
            CHECK(st.dropped_bytes["garbage"] == 7);
        }
    }
}

TEST_CASE("corrupt frames are dropped and counted, and the decoder resynchronises") {
    auto slip = make_framing("slip");
    DecoderStats st;
    std::string bad = std::string("\xC0"
                                  "ab\xDB"
                                  "xcd\xC0",
                                  8) +
                      encode_all(*slip, {"good"});
    CHECK(bytes_of(decode(*slip, bad, {}, &st)) == std::vector<std::string>{"good"});
    CHECK(st.drops["bad_escape"] == 1);

    auto cobs = make_framing("cobs");
    std::string bad_cobs = std::string("\x00\x05"
                                       "ab\x00",
                                       5) +
                           encode_all(*cobs, {"fine"});
    CHECK(bytes_of(decode(*cobs, bad_cobs, {}, &st)) == std::vector<std::string>{"fine"});
    CHECK(st.drops["bad_cobs"] == 1);

    auto len = make_framing("len:u16be");
    CHECK(bytes_of(decode(*len,
                          std::string("\x00\x05"
                                      "abc",
                                      5),
                          {}, &st))
              .empty());
    CHECK(st.drops["truncated"] == 1);
}

TEST_CASE("idle framing ends frames on silence, with time passed in") {
    auto f = make_framing("idle:20");
    REQUIRE(f);
    auto dec = f->decoder();
    Frames out;
    dec->feed("ab", 1000, out);
    dec->feed("cd", 15000, out); // 14 ms later: same frame
    CHECK(out.empty());
    CHECK(dec->deadline() == 35000);
    dec->tick(34999, out);
    CHECK(out.empty());
    dec->tick(35000, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].bytes == "abcd");
    dec->feed("ef", 100000, out);
    dec->feed("gh", 130000, out); // 30 ms of silence before: "ef" was a frame even without a tick
    REQUIRE(out.size() == 2);
    CHECK(out[1].bytes == "ef");
    dec->finish(out);
    CHECK(out.back().bytes == "gh");
}

TEST_CASE("fixed and raw framings") {
    auto f = make_framing("fixed:4");
    DecoderStats st;
    CHECK(bytes_of(decode(*f, "abcdefghij", {3, 5}, &st)) == std::vector<std::string>{"abcd", "efgh"});
    CHECK(st.drops["truncated"] == 1);
    std::string out;
    CHECK_FALSE(f->encoder()->encode("abc", out));
    auto raw = make_framing("raw", {.max_frame = 4});
    CHECK(bytes_of(decode(*raw, "abcdef", {2})) == std::vector<std::string>{"ab", "cdef"});
}

TEST_CASE("framing specs: unknown names suggest, bad arguments explain") {
    auto bad = make_framing("slpi");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Exit::usage);
    CHECK(bad.error().message.find("did you mean 'slip'") != std::string::npos);
    CHECK_FALSE(make_framing("len:u24"));
    CHECK_FALSE(make_framing("fixed:0"));
    CHECK_FALSE(make_framing("idle:x"));
    CHECK(make_framing("line:crlf")->name == "crlf");
    CHECK(make_framing("idle:5ms"));
}

TEST_CASE("regression (fuzz): a last crlf line one byte over the limit is cut, not emitted whole") {
    auto f = make_framing("crlf", {.max_frame = 4});
    DecoderStats st;
    auto frames = decode(*f, "abcde", {1, 2, 3, 4}, &st);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].bytes == "abcd");
    CHECK(st.dropped_bytes["overlong"] == 1);
}

TEST_CASE("at framing: echo, information, final result codes and URCs told apart") {
    auto f = make_framing("at", {});
    REQUIRE(f);
    auto dec = f->decoder();
    Frames out;
    dec->sent("AT+CREG?");
    dec->feed("AT+CREG?\r\r\n+CREG: 0,1\r\n\r\nOK\r\n", 0, out);
    dec->sent("at+cpin?");
    dec->feed("at+cpin?\r\r\n+CMTI: \"SM\",3\r\n\r\n+CME ERROR: 10\r\n", 0, out);
    dec->sent("ATD123;");
    dec->feed("\r\nRING\r\n\r\nNO CARRIER\r\n\r\n+CREG: 1,5\r\n", 0, out);
    std::vector<std::pair<std::string, std::string>> got;
    for (auto& fr : out) {
        CHECK(fr.view_key == "at");
        got.emplace_back(fr.bytes, fr.view);
    }
    CHECK(got == std::vector<std::pair<std::string, std::string>>{
                     {"AT+CREG?", R"({"kind":"echo"})"},
                     {"+CREG: 0,1", R"({"kind":"info"})"}, // the answer to AT+CREG?, not a URC
                     {"OK", R"({"kind":"final","ok":true,"result":"OK"})"},
                     {"at+cpin?", R"({"kind":"echo"})"},
                     {"+CMTI: \"SM\",3", R"({"kind":"urc"})"},
                     {"+CME ERROR: 10", R"({"kind":"final","ok":false,"result":"+CME ERROR: 10","code":10})"},
                     {"RING", R"({"kind":"urc"})"},
                     {"NO CARRIER", R"({"kind":"final","ok":false,"result":"NO CARRIER"})"},
                     {"+CREG: 1,5", R"({"kind":"urc"})"}}); // after ATD, +CREG is unsolicited
    std::string wire;
    REQUIRE(f->encoder()->encode("AT+CSQ", wire));
    CHECK(wire == "AT+CSQ\r");
    CHECK(!f->encoder()->encode("AT\rAT", wire));
}

TEST_CASE("at framing: an overlong line is cut, marked and counted, never read as a result code") {
    auto f = make_framing("at", {.max_frame = 4});
    REQUIRE(f);
    DecoderStats st;
    auto out = decode(*f, "OKOKOK\r\nOK\r\n", {3}, &st);
    REQUIRE(out.size() == 2);
    CHECK(out[0].bytes == "OKOK");
    CHECK(out[0].view.empty());
    CHECK(out[0].err.find("overlong") != std::string::npos);
    CHECK(out[1].view == R"({"kind":"final","ok":true,"result":"OK"})");
    CHECK((st.drops.at("overlong") == 1 && st.dropped_bytes.at("overlong") == 2));
}
