// The bridge as a Sparkplug B edge node (--sparkplug): topics, births and deaths, seq and bdSeq,
// datatypes from the register map, and the commands it takes. Payloads are read back with the
// Sparkplug decoder (the interop test reads them with python3-protobuf).
#include "apps/bridge/edge.hpp"
#include "modbus/modbus.hpp"
#include "sparkplug/sparkplug.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

namespace {

MapValue value(const char* name, int fc, const char* type, std::string last = {}) {
    MapValue v;
    v.name = name;
    v.fc = fc;
    v.spec = *modbus::parse_type(type);
    v.last = std::move(last);
    return v;
}

std::string json_of(const Expected<SpbMessage>& m) {
    REQUIRE(m);
    auto j = sparkplug::to_json(m->payload);
    REQUIRE(j);
    return *j;
}

std::string command_payload(std::string_view json) {
    auto p = sparkplug::from_json(json, 0);
    REQUIRE(p);
    return *p;
}

} // namespace

TEST_CASE("edge: GROUP/NODE names the edge node, and bad ids are refused in words") {
    auto e = SparkplugEdge::parse("plant1/gw7");
    REQUIRE(e);
    CHECK(e->topic("NBIRTH") == "spBv1.0/plant1/NBIRTH/gw7");
    CHECK(e->topic("DDATA", "meter") == "spBv1.0/plant1/DDATA/gw7/meter");
    CHECK(e->command_filters() ==
          std::vector<std::string>{"spBv1.0/plant1/NCMD/gw7", "spBv1.0/plant1/DCMD/gw7/+"});
    CHECK(SparkplugEdge::parse("plant1").error().message ==
          "--sparkplug 'plant1': give GROUP/NODE (the group and "
          "edge node ids)");
    CHECK(SparkplugEdge::parse("plant1/gw/7").error().message ==
          "--sparkplug: the edge node id 'gw/7' has a '/', '+' or '#'");
    CHECK(SparkplugEdge::parse("/gw").error().message == "--sparkplug: the group id is empty (GROUP/NODE)");
    CHECK(SparkplugEdge::parse("a+/gw").error().code == Exit::usage);
}

TEST_CASE("edge: bdSeq is one more per connection, NBIRTH carries it and starts seq at 0") {
    auto e = *SparkplugEdge::parse("g/n");
    auto d0 = sparkplug::to_json(e.next_death(1000));
    CHECK(*d0 == R"({"timestamp":1000,"metrics":[{"name":"bdSeq","datatype":"Int64","value":0}]})");
    CHECK(
        json_of(e.node_birth(2000)) ==
        R"({"timestamp":2000,"seq":0,"metrics":[{"name":"bdSeq","timestamp":2000,"datatype":"Int64","value":0},)"
        R"({"name":"Node Control/Rebirth","timestamp":2000,"datatype":"Boolean","value":false}]})");
    (void)e.next_death(3000);
    CHECK(e.bd_seq() == 1);
    CHECK(*sparkplug::to_json(e.death(4000)) ==
          R"({"timestamp":4000,"metrics":[{"name":"bdSeq","datatype":"Int64","value":1}]})");
    for (int i = 0; i < 255; ++i)
        (void)e.next_death(0);
    CHECK(e.bd_seq() == 0); // 0..255, as seq
}

TEST_CASE("edge: DBIRTH has every value with its datatype, DDATA what changed, seq wraps at 256") {
    auto e = *SparkplugEdge::parse("g/n");
    MapDevice d;
    d.name = "meter";
    d.values = {value("volts", 3, "float32", "230.5"), value("kwh", 3, "uint32", "123.456"),
                value("t", 4, "int16", "-2"),          value("relay", 1, "bits", "1"),
                value("tag", 3, "string:4", "\"ab\""), value("count", 3, "uint64", "18446744073709551615"),
                value("unread", 3, "uint16")};
    d.values[1].spec.scale = 0.001;
    (void)e.next_death(0);
    (void)e.node_birth(1);
    CHECK(json_of(e.device_birth(d, 5)) ==
          R"({"timestamp":5,"seq":1,"metrics":[)"
          R"({"name":"volts","timestamp":5,"datatype":"Float","value":230.5},)"
          R"({"name":"kwh","timestamp":5,"datatype":"Double","value":123.456},)"
          R"({"name":"t","timestamp":5,"datatype":"Int16","value":-2},)"
          R"({"name":"relay","timestamp":5,"datatype":"Boolean","value":true},)"
          R"({"name":"tag","timestamp":5,"datatype":"String","value":"ab"},)"
          R"({"name":"count","timestamp":5,"datatype":"UInt64","value":18446744073709551615},)"
          R"({"name":"unread","timestamp":5,"datatype":"UInt16","is_null":true}]})");
    d.values[3].last = "0";
    d.values[0].last = "null"; // a float that is not finite
    CHECK(
        json_of(e.device_data(d, {3, 0}, 6)) ==
        R"({"timestamp":6,"seq":2,"metrics":[{"name":"relay","timestamp":6,"datatype":"Boolean","value":false},)"
        R"({"name":"volts","timestamp":6,"datatype":"Float","is_null":true}]})");
    CHECK(json_of(e.device_death(d, 7)) == R"({"timestamp":7,"seq":3,"metrics":[]})");
    std::string last;
    for (int i = 4; i <= 256; ++i)
        last = json_of(e.device_data(d, {2}, 8));
    CHECK(last.starts_with(R"({"timestamp":8,"seq":0,)")); // the 257th message after NBIRTH: 256 -> 0
    CHECK(json_of(e.node_birth(9)).starts_with(R"({"timestamp":9,"seq":0,)"));
    CHECK(json_of(e.device_death(d, 10)) == R"({"timestamp":10,"seq":1,"metrics":[]})");
}

TEST_CASE("edge: a DCMD is a write by name, NCMD Rebirth, and what is not understood is said") {
    auto e = *SparkplugEdge::parse("g/n");
    auto c = e.command(
        "spBv1.0/g/DCMD/n/meter",
        command_payload(R"({"timestamp":1,"metrics":[{"name":"setpoint","datatype":"UInt16","value":321},)"
                        R"({"name":"relay","datatype":"Boolean","value":true},)"
                        R"({"alias":7,"datatype":"Int32","value":1},)"
                        R"({"name":"gone","datatype":"Int32","is_null":true}]})"));
    CHECK(c.device == "meter");
    CHECK_FALSE(c.rebirth);
    CHECK(c.set == R"({"set":{"setpoint":321,"relay":true},"device":"meter"})");
    CHECK(c.errors ==
          std::vector<std::string>{
              "a metric with no name (alias 7): this edge node names its metrics, it gives no aliases",
              "metric 'gone' has no value"});

    auto r = e.command("spBv1.0/g/NCMD/n", command_payload(R"({"metrics":[{"name":"Node Control/Rebirth",)"
                                                           R"("datatype":"Boolean","value":true}]})"));
    CHECK(r.rebirth);
    CHECK(r.errors.empty());
    CHECK(r.set.empty());
    auto other = e.command("spBv1.0/g/NCMD/n", command_payload(R"({"metrics":[{"name":"Node Control/Reboot",)"
                                                               R"("datatype":"Boolean","value":true}]})"));
    CHECK_FALSE(other.rebirth);
    CHECK(other.errors ==
          std::vector<std::string>{"NCMD metric 'Node Control/Reboot' is not one this edge node "
                                   "has (it takes 'Node Control/Rebirth' = true)"});
    auto bad = e.command("spBv1.0/g/DCMD/n/meter", std::string("\x0a\xff", 2));
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.set.empty());
    CHECK(e.command("spBv1.0/g/DCMD/other/meter", "").errors ==
          std::vector<std::string>{"'spBv1.0/g/DCMD/other/meter' is not a command for edge node g/n"});
}
