// The Modbus codec and the modbus-rtu / modbus-tcp / nmea framings, driven directly.
#include "framing/framing.hpp"
#include "modbus/modbus.hpp"
#include "util/bytes.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

namespace {

std::string unhex(std::string_view h) {
    return *decode_hex(h);
}
std::string hex(std::string_view b) {
    std::string s;
    append_hex(s, b);
    return s;
}

struct Run {
    Frames frames;
    DecoderStats stats;
};

/// Feeds `stream` in pieces at the given cuts, all at time 0 (no silence), then a silence.
Run decode(const Framing& f, std::string_view stream, std::vector<size_t> cuts = {}) {
    auto dec = f.decoder();
    Run r;
    size_t at = 0;
    for (size_t cut : cuts) {
        dec->feed(stream.substr(at, cut - at), 0, r.frames);
        at = cut;
    }
    dec->feed(stream.substr(at), 0, r.frames);
    dec->tick(1'000'000, r.frames);
    dec->finish(r.frames);
    r.stats = dec->stats();
    return r;
}

Framing framing(std::string_view spec, Expect e = Expect::any) {
    return *make_framing(spec, {.expect = e});
}

} // namespace

TEST_CASE("CRC-16/MODBUS matches the specification's example") {
    // "01 03 00 00 00 0A" is sent with CRC C5 CD (low byte first)
    CHECK(modbus::crc16(unhex("01030000000a")) == 0xCDC5);
    CHECK(modbus::crc16("123456789") == 0x4B37); // the CRC catalogue's check value
}

TEST_CASE("modbus requests are built from the record's modbus object") {
    CHECK(hex(*modbus::encode(R"({"unit":1,"fc":3,"addr":0,"count":10})")) == "01030000000a");
    CHECK(hex(*modbus::encode(R"({"fc":6,"addr":7,"value":-5})")) == "01060007fffb");
    CHECK(hex(*modbus::encode(R"({"unit":17,"fc":16,"addr":1,"regs":[10,258]})")) ==
          "11100001000204000a0102");
    CHECK(hex(*modbus::encode(R"({"fc":5,"addr":3,"value":true})")) == "01050003ff00");
    CHECK(hex(*modbus::encode(R"({"fc":15,"addr":19,"bits":[1,0,1,1,0,0,1,1,1,0]})")) ==
          "010f0013000a02cd01");
    CHECK(hex(*modbus::encode(R"({"fc":23,"read_addr":3,"read_count":6,"addr":14,"regs":[255,255,255]})")) ==
          "011700030006000e00030600ff00ff00ff");
    CHECK(hex(*modbus::encode(R"({"fc":3,"kind":"exception","exception":2})")) == "018302");
    CHECK(hex(*modbus::encode(R"({"fc":3,"kind":"response","regs":[1,2]})")) == "01030400010002");
}

TEST_CASE("bad modbus objects are refused with the field named") {
    CHECK(modbus::encode(R"({"fc":3,"addr":0})").error().message.find("\"count\" is missing") !=
          std::string::npos);
    CHECK(modbus::encode(R"({"fc":3,"addr":0,"count":126})").error().message.find("\"count\" must be") !=
          std::string::npos);
    CHECK(modbus::encode(R"({"fc":16,"addr":0,"regs":[]})").error().message.find("1 to 123") !=
          std::string::npos);
    CHECK(modbus::encode(R"({"fc":99,"addr":0})").error().message.find("function 99") != std::string::npos);
    // a missing function code or a unit out of range is named (it was "cannot build ... function 0")
    CHECK(modbus::encode(R"({"unit":1,"addr":0,"count":1})").error().message == "modbus: \"fc\" is missing");
    CHECK(modbus::encode(R"({"unit":300,"fc":3,"addr":0,"count":1})").error().message ==
          "modbus: \"unit\" must be an integer from 0 to 255");
    CHECK(!modbus::encode("[1,2]"));
}

TEST_CASE("modbus views: requests, responses, exceptions") {
    modbus::Context ctx;
    CHECK(modbus::describe(unhex("01030000000a"), true, ctx) ==
          R"({"unit":1,"fc":3,"kind":"request","addr":0,"count":10})");
    CHECK(modbus::describe(unhex("0103040001fffe"), false, ctx) ==
          R"({"unit":1,"fc":3,"kind":"response","addr":0,"regs":[1,65534]})");
    CHECK(modbus::describe(unhex("018302"), false, ctx) ==
          R"({"unit":1,"fc":3,"kind":"exception","exception":2,"error":"illegal data address"})");
    modbus::describe(unhex("010100000003"), true, ctx);
    CHECK(modbus::describe(unhex("01010105"), false, ctx) ==
          R"({"unit":1,"fc":1,"kind":"response","bits":[1,0,1]})");
    CHECK(modbus::describe(unhex("0141aabb"), false, ctx) ==
          R"({"unit":1,"fc":65,"kind":"unknown","data":"aabb"})");
}

namespace {
modbus::ValueSpec spec(const char* type, const char* order = "ABCD", double scale = 1, double offset = 0) {
    auto s = modbus::parse_type(type);
    REQUIRE(s);
    s->order = *modbus::parse_order(order);
    s->scale = scale;
    s->offset = offset;
    return *s;
}
} // namespace

TEST_CASE("register values: types, word and byte order") {
    uint16_t f[] = {0x4366, 0x8000}; // 230.5
    CHECK(modbus::value_json(f, spec("float32")) == "230.5");
    uint16_t fl[] = {0x8000, 0x4366};
    CHECK(modbus::value_json(fl, spec("float32", "CDAB")) == "230.5");
    uint16_t fs[] = {0x6643, 0x0080};
    CHECK(modbus::value_json(fs, spec("float32", "BADC")) == "230.5");
    uint16_t fd[] = {0x0080, 0x6643};
    CHECK(modbus::value_json(fd, spec("float32", "DCBA")) == "230.5");
    uint16_t i[] = {0xFFFE, 0x0001};
    CHECK(modbus::value_json(i, spec("int16")) == "-2");
    CHECK(modbus::value_json(i, spec("uint16")) == "65534");
    CHECK(modbus::value_json(i, spec("int16", "BADC")) == "-257"); // 0xFEFF
    CHECK(modbus::value_json(i, spec("int32")) == "-131071");
    CHECK(modbus::value_json(i, spec("uint32")) == "4294836225");
    CHECK(modbus::value_json(i, spec("uint32", "CDAB")) == "131070"); // 0x0001FFFE
    // 64 bits: CDAB reverses all four registers (pymodbus's and Telegraf's GHEFCDAB)
    uint16_t q[] = {0x0102, 0x0304, 0x0506, 0x0708};
    CHECK(modbus::value_json(q, spec("uint64")) == "72623859790382856"); // 0x0102030405060708, exact
    CHECK(modbus::value_json(q, spec("uint64", "CDAB")) == std::to_string(0x0708050603040102ull));
    CHECK(modbus::value_json(q, spec("uint64", "DCBA")) == std::to_string(0x0807060504030201ull));
    uint16_t neg[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE};
    CHECK(modbus::value_json(neg, spec("int64")) == "-2");
    uint16_t d[] = {0x400C, 0xCCCC, 0xCCCC, 0xCCCD}; // 3.6
    CHECK(modbus::value_json(d, spec("float64")) == "3.6");
    uint16_t str[] = {0x4142, 0x4344, 0x4500, 0x0000};
    CHECK(modbus::value_json(str, spec("string:8")) == R"("ABCDE")");
    CHECK(modbus::value_json(str, spec("string:3")) == R"("ABC")");
    CHECK(modbus::value_json(str, spec("string:8", "BADC")) == R"("BADC")"); // ends at the NUL
    uint16_t nan[] = {0x7FC0, 0x0000};
    CHECK(modbus::value_json(nan, spec("float32")) == "null");
    CHECK(modbus::values_json(q, spec("int16")) == "[258,772,1286,1800]");
    CHECK(modbus::values_json(q, spec("int32")) == "[16909060,84281096]");
    CHECK(modbus::registers_for(spec("string:5")) == 3);
}

TEST_CASE("register values: scale and offset give the decimals people read") {
    uint16_t e[] = {0x0001, 0xE256};                                          // 123478
    CHECK(modbus::value_json(e, spec("uint32", "ABCD", 0.001)) == "123.478"); // not 123.47800000000001
    uint16_t t[] = {215};
    CHECK(modbus::value_json(t, spec("int16", "ABCD", 0.1)) == "21.5");
    CHECK(modbus::value_json(t, spec("int16", "ABCD", 0.1, -40)) == "-18.5");
    CHECK(modbus::value_json(t, spec("int16", "ABCD", 2)) == "430");
    CHECK(modbus::value_json(t, spec("int16", "ABCD", 1, 0.25)) == "215.25");
    uint16_t f[] = {0x4366, 0x8000}; // 230.5 x 0.1: the float's decimal and the scale's
    CHECK(modbus::value_json(f, spec("float32", "ABCD", 0.1)) == "23.05");
    auto two = spec("int16", "ABCD", 1.0 / 3);
    two.decimals = 2; // the map may say
    CHECK(modbus::value_json(t, two) == "71.67");
    CHECK(modbus::format_number(-0.0001, 2) == "0");
    CHECK(modbus::decimals_of(0.1) == 1);
    CHECK(modbus::decimals_of(1e-5) == 5);
    CHECK(modbus::decimals_of(200) == 0);
}

TEST_CASE("register values: written as registers, the inverse of reading") {
    auto round_trip = [](const char* type, const char* order, const char* json, double scale = 1) {
        auto s = spec(type, order, scale);
        auto regs = modbus::registers_of(json, s);
        REQUIRE(regs);
        CHECK(regs->size() == static_cast<size_t>(modbus::registers_for(s)));
        return modbus::value_json(*regs, s);
    };
    CHECK(round_trip("float32", "CDAB", "230.5") == "230.5");
    CHECK(round_trip("float64", "DCBA", "-3.6") == "-3.6");
    CHECK(round_trip("int16", "ABCD", "-2") == "-2");
    CHECK(round_trip("uint64", "CDAB", "18446744073709551615") == "18446744073709551615");
    CHECK(round_trip("int64", "BADC", "-9223372036854775808") == "-9223372036854775808");
    CHECK(round_trip("int16", "ABCD", "21.5", 0.1) == "21.5");
    CHECK(round_trip("string:6", "BADC", R"("pump1")") == R"("pump1")");
    auto regs = modbus::registers_of("230.5", spec("float32"));
    REQUIRE(regs);
    CHECK(*regs == std::vector<uint16_t>{0x4366, 0x8000});
    auto bad = [](const char* type, const char* json, double scale = 1) {
        auto r = modbus::registers_of(json, spec(type, "ABCD", scale));
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    CHECK(bad("int16", "40000") == "value 40000 does not fit int16");
    CHECK(bad("uint16", "-1") == "value -1 does not fit uint16");
    CHECK(bad("uint32", "1.5") == "value 1.5 is not a whole number of uint32's units");
    CHECK(bad("int16", "21.55", 0.1) ==
          "value 21.55 is not a whole number of int16's units after scale and offset");
    CHECK(bad("string:4", R"("toolong")") == R"(value "toolong": 7 bytes, longer than string:4)");
    CHECK(bad("float32", R"("x")") == R"(value "x": a float32 value is a number)");
    CHECK_FALSE(modbus::parse_type("float16"));
    CHECK(modbus::parse_type("float16").error().message ==
          "type 'float16' is not int16, uint16, int32, uint32, int64, uint64, float32, float64, string:N or "
          "bits");
    CHECK_FALSE(modbus::parse_type("string:0"));
    CHECK_FALSE(modbus::parse_order("ABDC"));
}

TEST_CASE("modbus-rtu: frames by length rules and CRC, any split, requests and responses") {
    auto f = framing("modbus-rtu");
    std::string req = unhex("010300000002c40b"); // read 2 holding registers
    std::string rsp = unhex("01030404d2fffe");   // + CRC below
    auto enc = f.encoder();
    std::string stream = req;
    REQUIRE(enc->encode(rsp, stream));
    REQUIRE(enc->encode(unhex("018302"), stream));
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        auto r = decode(f, stream, {cut});
        REQUIRE(r.frames.size() == 3);
        CHECK(hex(r.frames[0].bytes) == "010300000002");
        CHECK(r.frames[0].view == R"({"unit":1,"fc":3,"kind":"request","addr":0,"count":2})");
        CHECK(r.frames[1].view == R"({"unit":1,"fc":3,"kind":"response","addr":0,"regs":[1234,65534]})");
        CHECK(r.frames[2].view.find("\"exception\":2") != std::string::npos);
        CHECK(r.stats.total_drops() == 0);
    }
}

TEST_CASE("modbus-rtu: garbage is skipped and counted, a bad CRC becomes an error record at the silence") {
    auto f = framing("modbus-rtu", Expect::responses);
    std::string good;
    REQUIRE(f.encoder()->encode(unhex("0106000700ff"), good));
    auto r = decode(f, "\x55\xAA\x13" + good);
    REQUIRE(r.frames.size() == 1);
    CHECK(hex(r.frames[0].bytes) == "0106000700ff");
    CHECK(r.stats.dropped_bytes.at("garbage") == 3);

    std::string bad = good;
    bad.back() ^= 0x01;
    auto b = decode(f, bad);
    REQUIRE(b.frames.size() == 1);
    CHECK(b.frames[0].err.starts_with("CRC mismatch"));
    CHECK(b.frames[0].bytes == bad);

    auto t = decode(f, good.substr(0, 5));
    REQUIRE(t.frames.size() == 1);
    CHECK(t.frames[0].err.starts_with("truncated"));
}

TEST_CASE("modbus-tcp: MBAP header, transaction ids, resynchronisation") {
    auto f = framing("modbus-tcp");
    auto enc = f.encoder();
    std::string stream;
    REQUIRE(enc->encode(unhex("010300000002"), stream));
    REQUIRE(enc->encode(unhex("01030404d2fffe"), stream));
    CHECK(hex(stream.substr(0, 12)) == "000100000006010300000002");
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        auto r = decode(f, "\x07" + stream, {cut});
        REQUIRE(r.frames.size() == 2);
        CHECK(r.frames[0].view == R"({"tid":1,"unit":1,"fc":3,"kind":"request","addr":0,"count":2})");
        CHECK(r.frames[1].view ==
              R"({"tid":2,"unit":1,"fc":3,"kind":"response","addr":0,"regs":[1234,65534]})");
        CHECK(r.stats.dropped_bytes.at("bad MBAP header") == 1);
    }
    std::string out;
    CHECK(!enc->encode("\x01", out));
}

TEST_CASE("nmea: checksums verified, fields decoded, garbage counted") {
    auto f = framing("nmea");
    std::string s = "junk$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
                    "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
                    "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n"
                    "$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75\r\n"
                    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n";
    for (size_t cut = 0; cut <= s.size(); cut += 7) {
        auto r = decode(f, s, {cut});
        REQUIRE(r.frames.size() == 5);
        CHECK(r.frames[0].bytes == "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47");
        CHECK(r.frames[0].err.empty());
        CHECK(r.frames[0].view.find(R"("type":"GGA")") != std::string::npos);
        CHECK(r.frames[0].view.find(
                  R"("lat":48.1173000,"lon":11.5166667,"quality":1,"sats":8,"hdop":0.9,"alt":545.4)") !=
              std::string::npos);
        CHECK(r.frames[1].view.find(R"("status":"A")") != std::string::npos);
        CHECK(r.frames[2].view.find(R"("speed_kmh":10.2)") != std::string::npos);
        CHECK(r.frames[3].view.find(R"({"prn":14,"elev":22,"az":228,"snr":45}])") != std::string::npos);
        CHECK(r.frames[4].err == "checksum mismatch: sentence says 48, computed 47");
        CHECK(r.stats.dropped_bytes.at("garbage") == 4);
    }
    std::string out;
    REQUIRE(f.encoder()->encode("$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K", out));
    CHECK(out == "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n");
}

TEST_CASE("modbus: the MBAP header is written and read back in one place") {
    std::string frame = "x";
    modbus::append_mbap(frame, 0xBEEF, std::string("\x01\x03\x00\x00\x00\x02", 6));
    REQUIRE(frame == std::string("x\xBE\xEF\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02", 13));
    auto h = modbus::read_mbap(std::string_view(frame).substr(1));
    CHECK(h.tid == 0xBEEF);
    CHECK(h.protocol == 0);
    CHECK(h.length == 6);
    CHECK(h.plausible());
    CHECK_FALSE(modbus::read_mbap(std::string("\x00\x01\x00\x01\x00\x06", 6)).plausible()); // protocol 1
    CHECK_FALSE(modbus::read_mbap(std::string("\x00\x01\x00\x00\x00\x01", 6)).plausible()); // too short
    CHECK_FALSE(modbus::read_mbap(std::string("\x00\x01\x00\x00\x00\xFF", 6)).plausible()); // too long
    CHECK(modbus::read_mbap(std::string("\x00\x01\x00\x00\x00\xFE", 6)).plausible());
}
