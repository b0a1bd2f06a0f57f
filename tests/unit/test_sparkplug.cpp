// Sparkplug B payloads to and from JSON: every datatype's value, the byte layout protobuf gives
// (checked by hand against the schema's field numbers), what passes through as base64, and errors.
#include "sparkplug/sparkplug.hpp"
#include <catch2/catch.hpp>
#include <string>

using namespace m2m::sparkplug;

namespace {
std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b)
        s += static_cast<char>(x);
    return s;
}
std::string round(std::string_view json) {
    auto p = from_json(json, 0);
    REQUIRE(p);
    auto j = to_json(*p);
    REQUIRE(j);
    return *j;
}
} // namespace

TEST_CASE("sparkplug: the namespace that carries protobuf payloads") {
    CHECK(is_payload_topic("spBv1.0/plant/DDATA/edge1/pump1"));
    CHECK(is_payload_topic("spBv1.0/plant/NBIRTH/edge1"));
    CHECK_FALSE(is_payload_topic("spBv1.0/STATE/scada1")); // JSON in Sparkplug 3.0
    CHECK_FALSE(is_payload_topic("spAv1.0/plant/DDATA/edge1"));
    CHECK_FALSE(is_payload_topic("plant/spBv1.0"));
}

TEST_CASE("sparkplug: the bytes of a small payload, field by field") {
    // timestamp=1 (field 1, varint), one metric {name "t" (1), datatype Int32 (4), int_value -1 (10)}, seq=7
    // (3)
    auto p =
        from_json(R"({"timestamp":1,"seq":7,"metrics":[{"name":"t","datatype":"Int32","value":-1}]})", 0);
    REQUIRE(p);
    CHECK(*p == bytes({0x08, 0x01, 0x12, 0x0b, 0x0a, 0x01, 't', 0x20, 0x03, 0x50, 0xff, 0xff, 0xff, 0xff,
                       0x0f, 0x18, 0x07}));
    auto j = to_json(*p);
    REQUIRE(j);
    CHECK(*j == R"({"timestamp":1,"seq":7,"metrics":[{"name":"t","datatype":"Int32","value":-1}]})");
}

TEST_CASE("sparkplug: every scalar datatype round-trips with its value") {
    std::string in =
        R"({"timestamp":1700000000000,"seq":255,"uuid":"u-1","metrics":[)"
        R"({"name":"i8","datatype":"Int8","value":-128},)"
        R"({"name":"i16","datatype":"Int16","value":-300},)"
        R"({"name":"i32","datatype":"Int32","value":-2147483648},)"
        R"({"name":"i64","datatype":"Int64","value":-9223372036854775808},)"
        R"({"name":"u8","datatype":"UInt8","value":255},)"
        R"({"name":"u16","datatype":"UInt16","value":65535},)"
        R"({"name":"u32","datatype":"UInt32","value":4294967295},)"
        R"({"name":"u64","datatype":"UInt64","value":18446744073709551615},)"
        R"({"name":"f","datatype":"Float","value":21.5},)"
        R"({"name":"d","datatype":"Double","value":0.1},)"
        R"({"name":"b","datatype":"Boolean","value":true},)"
        R"({"name":"s","datatype":"String","value":"héllo \"q\""},)"
        R"({"name":"dt","datatype":"DateTime","value":1700000000123},)"
        R"({"name":"txt","datatype":"Text","value":"t"},)"
        R"({"name":"id","datatype":"UUID","value":"0f8fad5b-d9cb-469f-a165-70867728950e"},)"
        R"({"name":"raw","datatype":"Bytes","value":"AAEC/w=="},)"
        R"({"name":"gone","alias":9,"timestamp":5,"datatype":"Double","is_historical":true,"is_transient":false,"is_null":true},)"
        R"({"alias":3,"datatype":"Float","value":"NaN"}]})";
    CHECK(round(in) == in);
}

TEST_CASE("sparkplug: datatypes inferred from the JSON value, a timestamp added when none is given") {
    auto p =
        from_json(R"({"metrics":[{"name":"a","value":1.5},{"name":"b","value":-3},{"name":"c","value":true},)"
                  R"({"name":"d","value":"x"}]})",
                  42);
    REQUIRE(p);
    CHECK(*to_json(*p) ==
          R"({"timestamp":42,"metrics":[{"name":"a","datatype":"Double","value":1.5},)"
          R"({"name":"b","datatype":"Int64","value":-3},{"name":"c","datatype":"Boolean","value":true},)"
          R"({"name":"d","datatype":"String","value":"x"}]})");
}

TEST_CASE("sparkplug: an empty payload (found by the fuzzer) round-trips without a timestamp added") {
    auto j = to_json("");
    REQUIRE(j);
    CHECK(*j == R"({"metrics":[]})");
    CHECK(round(*j) == *j);
}

TEST_CASE("sparkplug: a negative zero (found by the fuzzer) keeps its sign through JSON") {
    // the payload the fuzzer found: one metric, an alias, transient, a double_value of -0 and no datatype
    const char bytes[] = "\x12\x12\x69\x00\x00\x00\x00\x00\x00\x00\x80\x30\x2f\x10\xf5\xff\xf7\xed\xed\x07";
    auto j = to_json(std::string_view(bytes, sizeof bytes - 1));
    REQUIRE(j);
    CHECK(*j == R"({"metrics":[{"alias":270008188917,"is_transient":true,"double_value":-0.0}]})");
    CHECK(round(*j) == *j);
    std::string in = R"({"metrics":[{"name":"f","datatype":"Float","value":-0.0},)"
                     R"({"name":"d","datatype":"Double","value":-0.0}]})";
    CHECK(round(in) == in);
}

TEST_CASE("sparkplug: values the fuzzer found that a datatype does not explain keep their field") {
    // no datatype; UInt16 with a value past 16 bits; Unknown (0) as a datatype; a seq past 255
    std::string in = R"({"seq":300,"metrics":[{"int_value":80},{"datatype":"UInt16","int_value":217691111},)"
                     R"({"datatype":"Unknown"},{"datatype":"Int32","long_value":5}]})";
    CHECK(round(in) == in);
    auto clash = from_json(R"({"metrics":[{"value":1,"int_value":2}]})", 0);
    REQUIRE_FALSE(clash);
    CHECK(clash.error().message ==
          "sparkplug: metrics[0].int_value: a metric has one value: 'value' or this");
}

TEST_CASE("sparkplug: what m2mkit does not take apart passes through as base64") {
    std::string in = R"({"timestamp":1,"metrics":[{"name":"ds","datatype":"DataSet","properties_b64":"CgFh",)"
                     R"("dataset_b64":"CAE="},{"name":"tp","datatype":"Template","metadata_b64":"EgN4bWw=",)"
                     R"("template_b64":"CgEx"}],"body_b64":"aGk="})";
    CHECK(round(in) == in);
}

TEST_CASE("sparkplug: an Int8 sent sign-extended to 32 bits reads the same") {
    // some encoders put Int8 -1 in int_value as 0xFFFFFFFF, others as 0xFF
    auto wide = bytes({0x12, 0x08, 0x20, 0x01, 0x50, 0xff, 0xff, 0xff, 0xff, 0x0f});
    auto narrow = bytes({0x12, 0x05, 0x20, 0x01, 0x50, 0xff, 0x01});
    CHECK(*to_json(wide) == R"({"metrics":[{"datatype":"Int8","value":-1}]})");
    CHECK(*to_json(narrow) == R"({"metrics":[{"datatype":"Int8","value":-1}]})");
}

TEST_CASE("sparkplug: malformed payloads and JSON name what is wrong") {
    auto bad = to_json(bytes({0x12, 0x7f, 0x00}));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("not a Sparkplug B payload (3 bytes") != std::string::npos);
    auto msg = [](std::string_view j) {
        auto r = from_json(j, 0);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == m2m::Exit::bad_data);
        return r.error().message;
    };
    CHECK(msg(R"({"metrics":[{"datatype":"Int8","value":300}]})") ==
          "sparkplug: metrics[0].value: 300 does not fit Int8");
    CHECK(msg(R"({"metrics":[{},{"datatype":"Int99"}]})")
              .starts_with("sparkplug: metrics[1].datatype: 'Int99' is no"));
    CHECK(msg(R"({"seq":"one"})") == "sparkplug: seq: expected a whole number (Sparkplug counts 0 to 255)");
    CHECK(msg(R"({"metrics":[{"datatype":"Boolean","value":1}]})") ==
          "sparkplug: metrics[0].value: expected true or false for Boolean");
    CHECK(msg(R"({"metrics":[{"datatype":"Bytes","value":"!!"}]})") ==
          "sparkplug: metrics[0].value: not valid base64");
    CHECK(msg("[1]") == "sparkplug: the payload is not a JSON object");
    CHECK(msg("{") == "sparkplug: the payload is not valid JSON");
}
