// MQTT over WebSockets: the opening handshake's values (RFC 6455's own example), frames as a
// server reads them, and the broker's frames read in any split.
#include "mqttwire/websocket.hpp"
#include <catch2/catch.hpp>
#include <string>

using namespace m2m::wire;

namespace {
/// A frame as a server sends it (no mask).
std::string server_frame(uint8_t op, std::string_view payload, bool fin = true) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | op);
    if (payload.size() < 126) {
        f += static_cast<char>(payload.size());
    } else if (payload.size() <= 0xFFFF) {
        f += static_cast<char>(126);
        f += static_cast<char>(payload.size() >> 8);
        f += static_cast<char>(payload.size() & 0xFF);
    } else {
        f += static_cast<char>(127);
        for (int i = 7; i >= 0; --i)
            f += static_cast<char>((payload.size() >> (8 * i)) & 0xFF);
    }
    return f + std::string(payload);
}
/// What a server reads from a client frame: opcode, payload unmasked.
std::pair<int, std::string> unmask(std::string_view f) {
    REQUIRE(static_cast<unsigned char>(f[1]) & 0x80);
    size_t len = static_cast<unsigned char>(f[1]) & 0x7F, at = 2;
    if (len == 126) len = static_cast<unsigned char>(f[2]) << 8 | static_cast<unsigned char>(f[3]), at = 4;
    if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i)
            len = len << 8 | static_cast<unsigned char>(f[2 + i]);
        at = 10;
    }
    std::string_view mask = f.substr(at, 4);
    std::string out(f.substr(at + 4));
    REQUIRE(out.size() == len);
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<char>(out[i] ^ mask[i & 3]);
    return {static_cast<unsigned char>(f[0]) & 0x0F, out};
}
} // namespace

TEST_CASE("websocket: the accept value of RFC 6455's example key") {
    CHECK(ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(ws_key().size() == 24);
    CHECK(ws_key() != ws_key());
}

TEST_CASE("websocket: the upgrade request and the checks on the answer") {
    auto req = ws_request("127.0.0.1", 9001, false, "/mqtt", "KEY");
    CHECK(req.starts_with("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"));
    CHECK(req.find("Sec-WebSocket-Protocol: mqtt\r\n") != std::string::npos);
    CHECK(req.ends_with("\r\n\r\n"));
    CHECK(ws_request("broker.example", 443, true, "/", "K").find("Host: broker.example\r\n") !=
          std::string::npos);
    CHECK(ws_request("::1", 80, false, "/", "K").find("Host: [::1]\r\n") != std::string::npos);

    std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    std::string ok =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    CHECK(ws_check_response(ok, key));
    auto not101 = ws_check_response("HTTP/1.1 404 Not Found\r\n\r\n", key);
    REQUIRE(!not101);
    CHECK(not101.error().message.find("'HTTP/1.1 404 Not Found'") != std::string::npos);
    std::string bad_accept = ok;
    bad_accept.replace(bad_accept.find("s3pP"), 4, "AAAA");
    CHECK(!ws_check_response(bad_accept, key));
    std::string no_proto = ok;
    no_proto.erase(no_proto.find("Sec-WebSocket-Protocol"), 32);
    auto np = ws_check_response(no_proto, key);
    REQUIRE(!np);
    CHECK(np.error().message.find("subprotocol mqtt (none chosen)") != std::string::npos);
}

TEST_CASE("websocket: client frames are masked, with each length encoding") {
    for (size_t n : {0, 1, 125, 126, 65535, 65536, 300000}) {
        std::string payload(n, 'x');
        for (size_t i = 0; i < n; ++i)
            payload[i] = static_cast<char>(i * 7);
        std::string f;
        ws_frame(f, ws_binary, payload, ws_mask());
        CHECK((static_cast<unsigned char>(f[0]) == 0x82));
        auto [op, got] = unmask(f);
        CHECK(op == ws_binary);
        CHECK(got == payload);
    }
}

TEST_CASE("websocket: the broker's frames in any split, continuation, ping, pong, close") {
    std::string big(70000, 'b');
    std::string stream = server_frame(ws_binary, "\x30\x05") + server_frame(ws_ping, "hi") +
                         server_frame(ws_binary, "abc", false) + server_frame(ws_continuation, "def") +
                         server_frame(ws_pong, "") + server_frame(ws_binary, big);
    std::string want = std::string("\x30\x05") + "abcdef" + big;
    for (size_t cut : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{20}, stream.size() - 5}) {
        WsReader r;
        std::string data, control;
        REQUIRE(r.feed(std::string_view(stream).substr(0, cut), data, control));
        REQUIRE(r.feed(std::string_view(stream).substr(cut), data, control));
        CHECK(data == want);
        auto [op, payload] = unmask(control); // the ping is answered with a pong carrying its data
        CHECK(op == ws_pong);
        CHECK(payload == "hi");
    }
    WsReader r;
    std::string data, control;
    auto ev = r.feed(server_frame(ws_close, std::string("\x03\xe8") + "going away"), data, control);
    REQUIRE(ev);
    CHECK(*ev == WsReader::Event::close);
    CHECK(r.why == "the broker closed the WebSocket (code 1000: going away)");
}

TEST_CASE("websocket: frames no server may send are errors that say why") {
    auto error_of = [](std::string bytes) {
        WsReader r;
        std::string data, control;
        auto ev = r.feed(bytes, data, control);
        REQUIRE(!ev);
        return ev.error().message;
    };
    CHECK(error_of(server_frame(ws_text, "{}")).find("a text frame") != std::string::npos);
    std::string masked = server_frame(ws_binary, "x");
    masked[1] = static_cast<char>(masked[1] | 0x80);
    CHECK(error_of(masked).find("a masked frame") != std::string::npos);
    CHECK(error_of(server_frame(ws_ping, std::string(126, 'p'))).find("control frame 9 of 126 bytes") !=
          std::string::npos);
    CHECK(error_of(server_frame(3, "")).find("unknown opcode 3") != std::string::npos);
    std::string rsv = server_frame(ws_binary, "x");
    rsv[0] = static_cast<char>(rsv[0] | 0x40);
    CHECK(error_of(rsv).find("reserved bits") != std::string::npos);
}
