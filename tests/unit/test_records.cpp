#include "records/parser.hpp"
#include "util/bytes.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

namespace {
std::string roundtrip(std::string_view line) {
    RecordParser p;
    Record r;
    auto st = p.parse(line, r);
    if (!st) return "error: " + st.error().message;
    std::string out;
    append_jsonl(out, r);
    out.pop_back();
    return out;
}
std::string error_of(std::string_view line) {
    RecordParser p;
    Record r;
    auto st = p.parse(line, r);
    return st ? "" : st.error().message;
}
} // namespace

TEST_CASE("records: known fields are typed, user fields carried byte-exact") {
    RecordParser p;
    Record r;
    REQUIRE(p.parse(R"({"ts":"2026-11-21T18:00:00.123456Z","src":"serial:/dev/x","dir":"rx","seq":7,)"
                    R"("dev":"pump-1","cal":{"k": 1.50, "v":[1,2e3 ,"\u00e9"]},"hex":"00c0ff"})",
                    r));
    CHECK(r.ts == "2026-11-21T18:00:00.123456Z");
    CHECK(r.dir == "rx");
    CHECK(r.seq == 7u);
    CHECK(r.kind == PayloadKind::hex);
    CHECK(r.payload == std::string("\x00\xc0\xff", 3));
    REQUIRE(r.extra.size() == 2);
    CHECK(r.extra[0].key == "dev");
    CHECK(r.extra[0].raw_value == "\"pump-1\"");
    CHECK(r.extra[1].raw_value == R"({"k": 1.50, "v":[1,2e3 ,"\u00e9"]})");
}

TEST_CASE("records: writing what was read gives the same record") {
    for (const char* line : {
             R"({"ts":"2026-11-21T18:00:00.000001Z","src":"pty:","seq":1,"text":"a\"b\\c\n\u0001"})",
             R"({"topic":"plant/1","qos":1,"retain":false,"props":{"user":[["a","b"]]},"json":{"t":21.5}})",
             R"({"b64":"AAEC/w==","err":"crc mismatch","x":null,"y":true,"z":-1e-3})",
             R"({"text":"unicode é ✓"})",
         })
        CHECK(roundtrip(line) == line);
}

TEST_CASE("records: json payloads publish compact") {
    RecordParser p;
    Record r;
    REQUIRE(p.parse(R"({"json": { "a" : [1, 2] } })", r));
    CHECK(r.payload == R"({ "a" : [1, 2] })");
    CHECK(r.payload_bytes() == R"({"a":[1,2]})");
}

TEST_CASE("records: bad input is named precisely") {
    CHECK(error_of(R"({"text":"a")").find("JSON") != std::string::npos);
    CHECK(error_of(R"({"text":"a","hex":"00"})").find("two payload keys ('text' and 'hex')") !=
          std::string::npos);
    CHECK(error_of(R"({"hex":"0g"})").find("not valid hex") != std::string::npos);
    CHECK(error_of(R"({"hex":"abc"})").find("not valid hex") != std::string::npos);
    CHECK(error_of(R"({"b64":"A==="})").find("not valid base64") != std::string::npos);
    CHECK(error_of(R"({"seq":-1})").find("'seq' must be") != std::string::npos);
    CHECK(error_of(R"({"dir":"up"})").find("'dir' must be") != std::string::npos);
    CHECK(error_of(R"({"qos":3})").find("'qos' must be") != std::string::npos);
    CHECK(error_of(R"([1,2])").find("expected a JSON object") != std::string::npos);
    CHECK(error_of(R"({"a":1} x)").find("malformed JSON") != std::string::npos);
    CHECK(error_of(std::string("{\"text\":\"a\0b\"}", 14)).find("NUL byte") != std::string::npos);
    CHECK(error_of("{\"text\":\"a\x01\"}").size() > 0);
    CHECK(error_of("{\"text\":\"\xff\"}").size() > 0);
    CHECK(error_of(R"({"x":[1,2,}")").size() > 0);
    CHECK(error_of(R"({"x":{"y":tru}})").size() > 0);
    CHECK(error_of(R"({"ts":"a","ts":"b"})").find("duplicate key 'ts'") != std::string::npos);
    CHECK(error_of("").size() > 0);
    CHECK(error_of("   ").size() > 0);
}

TEST_CASE("records: payload style for received bytes") {
    Record r;
    set_payload(r, "hello", PayloadStyle::auto_);
    CHECK(r.kind == PayloadKind::text);
    set_payload(r, std::string("\x00\x01", 2), PayloadStyle::auto_);
    CHECK(r.kind == PayloadKind::hex);
    set_payload(r, "\xff", PayloadStyle::text, PayloadKind::b64);
    CHECK(r.kind == PayloadKind::b64);
    set_payload(r, R"({"a":1})", PayloadStyle::json);
    CHECK(r.kind == PayloadKind::json);
    set_payload(r, "not json", PayloadStyle::json);
    CHECK(r.kind == PayloadKind::hex);
}

TEST_CASE("hex and base64 codecs") {
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += static_cast<char>(i);
    for (size_t n = 0; n < 8; ++n) {
        std::string h, b;
        append_hex(h, all.substr(0, n) + all);
        append_base64(b, all.substr(0, n) + all);
        CHECK(decode_hex(h) == all.substr(0, n) + all);
        CHECK(decode_base64(b) == all.substr(0, n) + all);
    }
    CHECK(decode_base64("Zm9v") == "foo");
    CHECK(decode_base64("Zm8=") == "fo");
    CHECK_FALSE(decode_base64("Zm=v"));
    CHECK_FALSE(decode_base64("Zm9"));
}

#include "util/clock.hpp"
TEST_CASE("timestamps are RFC 3339 UTC with microseconds") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(format_rfc3339(1795284000123456) == "2026-11-21T18:00:00.123456Z");
    CHECK(format_rfc3339(1795284000000007) == "2026-11-21T18:00:00.000007Z");
    CHECK(format_rfc3339(1795284001999999) == "2026-11-21T18:00:01.999999Z");
}

#include "util/scan.hpp"
TEST_CASE("word-at-a-time scans find exactly what a byte loop finds") {
    std::string s;
    for (int i = 0; i < 600; ++i)
        s += static_cast<char>((i * 37 + 11) % 256);
    for (auto [a, b] : {std::pair<uint8_t, uint8_t>{0xC0, 0xDB}, {0x00, 0x0A}, {'"', '\\'}, {0xFF, 0x80}}) {
        for (size_t from = 0; from < s.size(); from += 7) {
            size_t slow = from;
            while (slow < s.size() && static_cast<uint8_t>(s[slow]) != a &&
                   static_cast<uint8_t>(s[slow]) != b)
                ++slow;
            CHECK(scan::find_either(s, from, a, b) == slow);
        }
    }
    CHECK(is_printable_text("plain text with tab\tand\r\nnewlines, é ✓, long enough to span words"));
    CHECK_FALSE(is_printable_text(std::string("sixteen bytes ok\x01 then", 22)));
    CHECK_FALSE(is_printable_text("0123456789abcdef\x7f"));
    std::string out;
    append_json_string(out, std::string("0123456789\"abcdef\\ghij\x01klmnopqrstuvwxyz", 39));
    CHECK(out == R"("0123456789\"abcdef\\ghij\u0001klmnopqrstuvwxyz")");
}

TEST_CASE("records: numbers valid in JSON but too big for a machine type are carried byte-exact") {
    // an ICCID (20 digits, over 2^64), and doubles out of range: valid JSON, kept as written
    for (const char* line : {
             R"({"text":"a","iccid":89014103211118510720})",
             R"({"text":"1e400","x":1e400,"y":-1E+999,"z":[123456789012345678901234567890]})",
             R"({"json":{"v":1e999,"w":"-99999999999999999999"}})",
         })
        CHECK(roundtrip(line) == line);
    RecordParser p;
    Record r;
    REQUIRE(p.parse(R"({"json":{"big":18446744073709551616}})", r));
    CHECK(r.payload_bytes() == R"({"big":18446744073709551616})");
    // still refused: a known field that needs a number it cannot hold, and what is not a number
    CHECK(error_of(R"({"seq":18446744073709551616})").find("below 2^64") != std::string::npos);
    CHECK(error_of(R"({"qos":1e400})").find("'qos' must be") != std::string::npos);
    CHECK(error_of(R"({"x":01})").find("malformed number") != std::string::npos);
    CHECK(error_of(R"({"x":1e})").find("malformed number") != std::string::npos);
    CHECK(error_of(R"({"x":--1})").find("malformed number") != std::string::npos);
}

TEST_CASE("records: bytes that are not UTF-8 are written as U+FFFD, so every line is valid JSON") {
    Record r;
    r.err = "bad \xff\xfe talker \xc3(";
    r.topic = "a/\xed\xa0\x80/\xf4\x90\x80\x80/\xe2\x82\xac"; // surrogate, > U+10FFFF, then a valid €
    std::string out;
    append_jsonl(out, r);
    CHECK(out == "{\"topic\":\"a/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/"
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/"
                 "\xe2\x82\xac\",\"err\":\"bad \xef\xbf\xbd\xef\xbf\xbd talker \xef\xbf\xbd(\"}\n");
    RecordParser p;
    Record back;
    out.pop_back();
    CHECK(p.parse(out, back));
    CHECK(replace_invalid_utf8("ok é ✓") == "ok é ✓");
    CHECK(replace_invalid_utf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd"); // an overlong '/'
}

TEST_CASE("jsonl: the cache of the leading fields writes what the plain writer writes") {
    JsonlCache cache;
    std::vector<Record> rs(6);
    rs[0].ts = "2026-12-03T10:00:00.000001Z", rs[0].src = "serial:/dev/ttyUSB0", rs[0].dir = "rx";
    rs[1] = rs[0], rs[1].seq = 2;                            // the same head
    rs[2] = rs[1], rs[2].ts = "2026-12-03T10:00:00.000002Z"; // a new timestamp
    rs[3] = rs[2], rs[3].src = "pty \"a\"";                  // a src that needs escaping
    rs[4].payload = "x", rs[4].kind = PayloadKind::text;     // no head at all
    rs[5] = rs[3], rs[5].dir.clear();                        // dir gone
    for (auto& r : rs) {
        std::string plain, cached;
        append_jsonl(plain, r);
        append_jsonl(cached, r, cache);
        CHECK(cached == plain);
    }
}
