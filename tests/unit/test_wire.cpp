// MQTT 3.1.1 packets without Paho (loadgen's hot path), against the byte layouts of the spec.
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
