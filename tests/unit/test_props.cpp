// MQTT 5 properties between a record's "props" and the wire's property block (mqtt/props).
#include "mqtt/props.hpp"
#include "mqttwire/wire.hpp"
#include <catch2/catch.hpp>

using namespace m2m;

TEST_CASE("props: a record's props go on the wire and come back as the same JSON") {
    PubProps p;
    REQUIRE(p.merge_json(R"({"content_type":"a/b","response_topic":"r/t","correlation_data":"c-1",)"
                         R"("message_expiry":60,"payload_format":1,"user":[["site","n"],["site","s"]]})"));
    CHECK(props_to_json(p.encode()) == R"({"payload_format":1,"message_expiry":60,"content_type":"a/b",)"
                                       R"("response_topic":"r/t","correlation_data":"c-1",)"
                                       R"("user":[["site","n"],["site","s"]]})");
}

TEST_CASE("props: binary correlation data, subscription identifiers, and an empty block") {
    wire::PropWriter w;
    w.str(0x09, std::string("\xff\x00", 2));
    w.bytes += std::string("\x0b\x81\x01", 3); // subscription identifier 129, a variable byte integer
    CHECK(props_to_json(w.bytes) == R"({"correlation_data_b64":"/wA=","subscription_id":[129]})");
    CHECK(props_to_json("") == "");
}

TEST_CASE("props: a message's box is empty until given properties, and a copy is its own") {
    PropsBox a;
    CHECK_FALSE(a);
    CHECK(a.get() == nullptr);
    a.edit().content_type = "a/b";
    REQUIRE(a);
    PropsBox b = a; // iot-pub --repeat sends copies of one message
    b.edit().content_type = "c/d";
    CHECK(*a->content_type == "a/b");
    CHECK(*b->content_type == "c/d");
    a = PubProps{}; // given, even empty: the message carries an empty property block
    CHECK(a);
    CHECK(a->empty());
    a.reset();
    CHECK_FALSE(a);
    // a queue holds many messages without properties: a box is a pointer, not a PubProps
    STATIC_REQUIRE(sizeof(PropsBox) == sizeof(void*));
}
