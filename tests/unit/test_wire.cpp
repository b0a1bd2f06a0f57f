// MQTT 3.1.1 and 5 packets (mqttwire), against the byte layouts of the specification.
#include "mqttwire/trace.hpp"
#include "mqttwire/wire.hpp"
#include "util/bytes.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace m2m;

namespace {
std::string hex(std::string_view b) {
    std::string s;
    append_hex(s, b);
    return s;
}
} // namespace

TEST_CASE("MQTT packets are encoded as the 3.1.1 specification lays them out") {
    std::string out;
    wire::Connect c;
    c.client_id = "lg-1";
    c.keepalive = 30;
    wire::connect(out, c);
    CHECK(hex(out) == "101000044d5154540402001e00046c672d31");
    out.clear();
    wire::publish(out, "a/b", "hi", 1, false, 7);
    CHECK(hex(out) == "3209"
                      "0003612f62"
                      "0007"
                      "6869");
    out.clear();
    wire::publish(out, "t", "", 0, true, 0);
    CHECK(hex(out) == "3103000174");
    out.clear();
    wire::subscribe(out, 1, {{"lg/#", 1}});
    CHECK(hex(out) == "82090001"
                      "00046c672f23"
                      "01");
    out.clear();
    wire::puback(out, 258);
    wire::pingreq(out);
    wire::disconnect(out);
    CHECK(hex(out) == "40020102"
                      "c000"
                      "e000");
    out.clear();
    wire::publish(out, "t", std::string(200, 'x'), 0, false, 0); // two-byte remaining length
    CHECK(hex(out.substr(0, 3)) == "30cb01");
}

TEST_CASE("the decoder gives the same packets for any split and names malformed ones") {
    std::string stream;
    stream += *decode_hex("20020000"); // CONNACK accepted
    wire::publish(stream, "lg/3", "{\"seq\":1}", 1, false, 9);
    stream += *decode_hex("9003000101"); // SUBACK id 1, granted QoS 1
    stream += *decode_hex("40020009");   // PUBACK 9
    wire::publish(stream, "t", std::string(300, 'y'), 0, true, 0);
    stream += *decode_hex("d000"); // PINGRESP
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        wire::Decoder d;
        std::vector<std::string> seen;
        auto drain = [&] {
            wire::Packet p;
            while (true) {
                auto r = d.next(p);
                REQUIRE(r);
                if (!*r) break;
                seen.push_back(fmt::format("{}:{}:{}:{}:{}:{}", +p.type, p.id, p.qos, p.return_code, p.topic,
                                           p.payload.size()));
            }
        };
        d.feed(std::string_view(stream).substr(0, cut));
        drain();
        d.feed(std::string_view(stream).substr(cut));
        drain();
        CHECK(seen == std::vector<std::string>{"2:0:0:0::0", "3:9:1:0:lg/3:9", "9:1:0:1::0", "4:9:0:0::0",
                                               "3:0:0:0:t:300", "13:0:0:0::0"});
    }
    wire::Decoder bad;
    bad.feed(*decode_hex("36020000")); // PUBLISH with QoS 3
    wire::Packet p;
    CHECK(bad.next(p).error().message == "MQTT: PUBLISH with QoS 3");
    wire::Decoder longer;
    longer.feed(*decode_hex("30ffffffff01"));
    CHECK(!longer.next(p));
}

TEST_CASE("MQTT 5: CONNECT, PUBLISH and SUBSCRIBE carry a property block, user properties are found") {
    std::string out;
    wire::Connect c;
    c.client_id = "lg-1";
    c.keepalive = 30;
    c.version = wire::v5;
    wire::connect(out, c);
    CHECK(hex(out) == "101100044d5154540502001e00" // level 5, empty properties
                      "00046c672d31");
    out.clear();
    std::pair<std::string_view, std::string_view> stamp[] = {{"lg", "3/7"}};
    wire::publish(out, "a/b", "hi", 1, false, 7, false, wire::v5, stamp);
    CHECK(hex(out) == "3214"
                      "0003612f62"
                      "0007"
                      "0a260002"
                      "6c670003332f37"
                      "6869");
    out.clear();
    wire::subscribe(out, 1, {{"lg/#", 1}}, wire::v5);
    CHECK(hex(out) == "820a000100"
                      "00046c672f23"
                      "01");

    wire::Decoder d(1 << 20, wire::v5);
    std::string in;
    in += *decode_hex("2006000003210014"); // CONNACK, Receive Maximum 20
    wire::publish(in, "a/b", "hi", 1, false, 7, false, wire::v5, stamp);
    in += *decode_hex("4003000997");   // PUBACK 9: quota exceeded
    in += *decode_hex("4002000a");     // PUBACK 10, two-byte form: success
    in += *decode_hex("900400010001"); // SUBACK, no properties, granted QoS 1
    in += *decode_hex("e0018e");       // DISCONNECT: session taken over
    d.feed(in);
    wire::Packet p;
    REQUIRE(*d.next(p));
    CHECK((p.type == wire::CONNACK && p.return_code == 0 && p.props.size() == 3));
    REQUIRE(*d.next(p));
    std::string_view v;
    CHECK((p.type == wire::PUBLISH && p.id == 7 && p.topic == "a/b" && p.payload == "hi"));
    CHECK((wire::user_property(p.props, "lg", v) && v == "3/7"));
    CHECK(!wire::user_property(p.props, "other", v));
    REQUIRE(*d.next(p));
    CHECK((p.type == wire::PUBACK && p.id == 9 && p.return_code == 0x97));
    CHECK(wire::reason_text(p.return_code, wire::v5) == "quota exceeded");
    REQUIRE(*d.next(p));
    CHECK((p.type == wire::PUBACK && p.id == 10 && p.return_code == 0));
    REQUIRE(*d.next(p));
    CHECK((p.type == wire::SUBACK && p.return_code == 1));
    REQUIRE(*d.next(p));
    CHECK((p.type == wire::DISCONNECT && p.return_code == 0x8e));
    CHECK(!*d.next(p));

    wire::Decoder bad(1 << 20, wire::v5);
    bad.feed(*decode_hex("3006000174027f00")); // property id 0x7f does not exist
    CHECK(bad.next(p).error().message == "MQTT: a packet of type 3 with a malformed property block");
    wire::Decoder cut(1 << 20, wire::v5);
    cut.feed(*decode_hex("300400017409")); // 9 bytes of properties announced, none there
    CHECK(cut.next(p).error().message == "MQTT: a packet of type 3 whose property length is cut short");
    CHECK(wire::reason_text(5, wire::v311) == "not authorised");
    CHECK(wire::reason_text(0x87, wire::v5) == "not authorised");
}

TEST_CASE("CONNECT carries a last will and MQTT 5 connect properties, acknowledgements have their flags") {
    std::string out;
    wire::Connect c;
    c.client_id = "p";
    c.keepalive = 60;
    c.has_will = true;
    c.will_topic = "w";
    c.will_payload = "bye";
    c.will_qos = 1;
    c.will_retain = true;
    wire::connect(out, c);
    // flags 0x2e: clean session, will, will QoS 1, will retain
    CHECK(hex(out) == "1015"
                      "00044d515454"
                      "04"
                      "2e"
                      "003c"
                      "000170"
                      "000177"
                      "0003627965");
    out.clear();
    c.version = wire::v5;
    wire::PropWriter w;
    w.u32(0x11, 0xFFFFFFFF); // session expiry
    c.props = w.bytes;
    wire::connect(out, c);
    // the property block after the keepalive; an empty will property block before the will topic
    CHECK(hex(out) == "101c"
                      "00044d515454"
                      "05"
                      "2e"
                      "003c"
                      "0511ffffffff"
                      "000170"
                      "00"
                      "000177"
                      "0003627965");

    out.clear();
    wire::ack(out, wire::PUBREL, 0x1234);
    wire::ack(out, wire::PUBREC, 2);
    wire::ack(out, wire::PUBCOMP, 3);
    CHECK(hex(out) == "62021234"
                      "50020002"
                      "70020003"); // PUBREL has flags 0b0010

    out.clear();
    wire::PropWriter p;
    p.byte(0x01, 1);
    p.u16(0x23, 5);
    p.str(0x03, "t");
    p.pair(0x26, "k", "v");
    wire::publish(out, "a", "x", 0, false, 0, false, wire::v5, {}, p.bytes);
    CHECK(hex(out) == "3015"
                      "000161"
                      "10"
                      "0101"
                      "230005"
                      "03000174"
                      "2600016b000176"
                      "78");

    uint32_t v = 0;
    CHECK(wire::numeric_property(p.bytes, 0x23, v));
    CHECK(v == 5);
    CHECK(wire::numeric_property(p.bytes, 0x01, v));
    CHECK(v == 1);
    CHECK_FALSE(wire::numeric_property(p.bytes, 0x21, v));
}

TEST_CASE("SUBSCRIBE carries the MQTT 5 subscription options, SUBACK gives one code per filter") {
    std::string out;
    wire::subscribe(out, 3, {{"a/#", 1, true, true, 2}, {"b", 2}}, wire::v5);
    CHECK(hex(out) == "820d"
                      "0003"
                      "00"
                      "0003612f23"
                      "2d" // QoS 1 | no local | retain as published | handling 2
                      "000162"
                      "02");
    out.clear();
    wire::subscribe(out, 3, {{"a/#", 1, true, true, 2}}, wire::v311);
    CHECK(hex(out) == "82080003"
                      "0003612f23"
                      "01"); // 3.1.1 has only the QoS
    wire::Decoder dec(1 << 20, wire::v5);
    dec.feed(std::string("\x90\x05\x00\x03\x00\x01\x87", 7));
    wire::Packet p;
    REQUIRE(dec.next(p).value());
    CHECK(p.type == wire::SUBACK);
    CHECK(p.id == 3);
    CHECK(hex(p.codes) == "0187");
}

TEST_CASE("UNSUBSCRIBE lists its filters, an MQTT 5 UNSUBACK gives one reason code per filter") {
    std::string out;
    wire::unsubscribe(out, 9, {"a/#", "b"}, wire::v311);
    CHECK(hex(out) == "a20a"
                      "0009"
                      "0003612f23"
                      "000162");
    out.clear();
    wire::unsubscribe(out, 9, {"b"}, wire::v5);
    CHECK(hex(out) == "a206000900000162"); // the empty property block before the filters
    wire::Decoder dec(1 << 20, wire::v5);
    dec.feed(std::string("\xb0\x05\x00\x09\x00\x00\x11", 7));
    wire::Packet p;
    REQUIRE(dec.next(p).value());
    CHECK(p.type == wire::UNSUBACK);
    CHECK(p.id == 9);
    CHECK(hex(p.codes) == "0011"); // success, no subscription existed
    wire::Decoder dec311(1 << 20, wire::v311);
    dec311.feed(std::string("\xb0\x02\x00\x09", 4));
    REQUIRE(dec311.next(p).value());
    CHECK((p.type == wire::UNSUBACK && p.id == 9 && p.codes.empty()));
}

TEST_CASE("property blocks: each property in order, strings without their length") {
    wire::PropWriter w;
    w.str(0x03, "text/plain");
    w.pair(0x26, "k", "v");
    w.u32(0x02, 60);
    std::vector<std::pair<int, std::string>> seen;
    wire::each_property(w.bytes, [&](int id, std::string_view v) { seen.emplace_back(id, std::string(v)); });
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::pair<int, std::string>{0x03, "text/plain"});
    CHECK(seen[1].first == 0x26);
    CHECK(seen[2] == std::pair<int, std::string>{0x02, std::string("\0\0\0\x3c", 4)});
    std::string_view ct;
    CHECK((wire::string_property(w.bytes, 0x03, ct) && ct == "text/plain"));
    CHECK_FALSE(wire::string_property(w.bytes, 0x09, ct));
}

TEST_CASE("debug trace: debug describes packets as mosquitto's clients do") {
    std::string out;
    wire::publish(out, "a/b", "hello", 1, true, 7, false, wire::v311);
    CHECK(wire::describe_sent(out, wire::v311) == "PUBLISH (d0, q1, r1, m7, 'a/b', ... (5 bytes))");
    out.clear();
    wire::publish(out, "t", std::string(300, 'x'), 0, false, 0, false, wire::v5);
    CHECK(wire::describe_sent(out, wire::v5) == "PUBLISH (d0, q0, r0, m0, 't', ... (300 bytes))");
    out.clear();
    wire::subscribe(out, 2, {{"a/#", 1, true}, {"b", 0}}, wire::v5);
    CHECK(wire::describe_sent(out, wire::v5) ==
          "SUBSCRIBE (Mid: 2, Topic: a/#, QoS: 1, Options: 0x04, Topic: b, QoS: 0, Options: 0x00)");
    out.clear();
    wire::unsubscribe(out, 3, {"x/#"}, wire::v311);
    CHECK(wire::describe_sent(out, wire::v311) == "UNSUBSCRIBE (Mid: 3, Topic: x/#)");
    out.clear();
    wire::ack(out, wire::PUBREL, 9);
    CHECK(wire::describe_sent(out, wire::v311) == "PUBREL (m9)");
    out.clear();
    wire::ack(out, wire::PUBACK, 9);
    CHECK(wire::describe_sent(out, wire::v311) == "PUBACK (m9, rc0)");
    out.clear();
    wire::pingreq(out);
    CHECK(wire::describe_sent(out, wire::v311) == "PINGREQ");
    wire::Decoder dec(1 << 20, wire::v311);
    dec.feed(std::string("\x20\x02\x00\x00\x40\x02\x00\x07\x33\x07\x00\x01t\x00\x05hi", 17));
    wire::Packet p;
    REQUIRE(dec.next(p).value());
    CHECK(wire::describe_received(p) == "CONNACK (0)");
    REQUIRE(dec.next(p).value());
    CHECK(wire::describe_received(p) == "PUBACK (Mid: 7, RC:0)");
    REQUIRE(dec.next(p).value());
    CHECK(wire::describe_received(p) == "PUBLISH (d0, q1, r1, m5, 't', ... (2 bytes))");
}
