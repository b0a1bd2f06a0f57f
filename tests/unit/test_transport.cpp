// The transport under every MQTT connection (MqttClient's and loadgen's): plain bytes both ways,
// and the WebSocket upgrade and frames against the other end of a socket pair playing the server.
#include "mqttwire/transport.hpp"
#include "mqttwire/websocket.hpp"
#include "mqttwire/wire.hpp"
#include <catch2/catch.hpp>
#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

using namespace m2m::wire;

namespace {

struct Pair {
    int client = -1, server = -1;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        client = fds[0];
        server = fds[1];
    }
    ~Pair() { ::close(server); } // the transport owns and closes `client`
    std::string take() {
        std::string got;
        char buf[4096];
        ssize_t r;
        while ((r = ::read(server, buf, sizeof buf)) > 0)
            got.append(buf, static_cast<size_t>(r));
        return got;
    }
    void give(std::string_view b) const {
        REQUIRE(::write(server, b.data(), b.size()) == static_cast<ssize_t>(b.size()));
    }
};

std::string pingreq_bytes() {
    std::string b;
    pingreq(b);
    return b;
}

std::string pingresp_bytes() {
    return std::string("\xD0\x00", 2);
}

/// The key in a client's upgrade request.
std::string key_of(const std::string& request) {
    auto at = request.find("Sec-WebSocket-Key: ");
    REQUIRE(at != std::string::npos);
    at += 19;
    return request.substr(at, request.find("\r\n", at) - at);
}

std::string answer(const std::string& key) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           ws_accept(key) + "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
}

} // namespace

TEST_CASE("transport: plain TCP passes MQTT bytes both ways, a close is the broker's") {
    Pair p;
    Transport t;
    t.open(p.client, nullptr, {"127.0.0.1", 1883});
    CHECK(t.ready());
    CHECK(t.handshake() == Transport::Step::done);
    std::string out = pingreq_bytes();
    CHECK(t.write(out) == static_cast<long>(out.size()));
    CHECK(!t.wants_write());
    CHECK(p.take() == out);

    Decoder dec(1 << 20);
    CHECK(t.read(dec) == 0); // nothing there yet
    p.give(pingresp_bytes());
    CHECK(t.read(dec) == 2);
    Packet pk;
    REQUIRE(*dec.next(pk));
    CHECK(pk.type == PINGRESP);
    ::shutdown(p.server, SHUT_WR);
    CHECK(t.read(dec) == -1);
    CHECK(t.why() == "the broker closed the connection");
}

TEST_CASE("transport: WebSocket upgrade, frames counted whole, a ping answered, early bytes kept") {
    Pair p;
    Transport t;
    t.open(p.client, nullptr, {"127.0.0.1", 9001, true, "/mqtt"});
    CHECK(!t.ready());
    CHECK(t.handshake() == Transport::Step::want_read); // the request went; the answer has not come
    std::string req = p.take();
    CHECK(req.starts_with("GET /mqtt HTTP/1.1\r\n"));
    std::string ans = answer(key_of(req));
    p.give(ans.substr(0, 20)); // the answer in two parts, the second with the broker's first frame
    CHECK(t.handshake() == Transport::Step::want_read);
    std::string connack("\x20\x02\x00\x00", 4);
    std::string frame = std::string("\x82\x04", 2) + connack;
    p.give(ans.substr(20) + frame);
    REQUIRE(t.handshake() == Transport::Step::done);
    CHECK(t.ready());

    Decoder dec(1 << 20);
    CHECK(t.read(dec) == 0); // the socket is empty, but the frame that came with the answer is decoded
    Packet pk;
    REQUIRE(*dec.next(pk));
    CHECK(pk.type == CONNACK);

    // what the caller writes goes in one masked binary frame, counted once it is out
    std::string out = pingreq_bytes();
    CHECK(t.write(out) == static_cast<long>(out.size()));
    std::string sent = p.take();
    REQUIRE(sent.size() == 2 + 4 + out.size());
    CHECK(static_cast<unsigned char>(sent[0]) == 0x82);
    CHECK((static_cast<unsigned char>(sent[1]) & 0x80) != 0); // masked

    // a ping from the server: a pong is owed, and goes with the next write
    p.give(std::string("\x89\x02hi", 4));
    CHECK(t.read(dec) == 4);
    CHECK(t.wants_write());
    CHECK(t.write({}) == 0);
    CHECK(!t.wants_write());
    std::string pong = p.take();
    REQUIRE(pong.size() == 2 + 4 + 2);
    CHECK(static_cast<unsigned char>(pong[0]) == 0x8A);

    // a close frame ends the connection with the server's words
    p.give(std::string("\x88\x02\x03\xE8", 4));
    CHECK(t.read(dec) == -1);
    CHECK(!t.why().empty());
}

TEST_CASE("transport: a frame the socket takes in part counts only once it is out entirely") {
    Pair p;
    int small = 4096;
    ::setsockopt(p.client, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    Transport t;
    t.open(p.client, nullptr, {"127.0.0.1", 9001, true, "/mqtt"});
    REQUIRE(t.handshake() == Transport::Step::want_read);
    p.give(answer(key_of(p.take())));
    REQUIRE(t.handshake() == Transport::Step::done);

    std::string big(200000, 'x');
    long put = t.write(big);
    CHECK(put == 0); // the frame is partly written: none of the caller's bytes count yet
    CHECK(t.wants_write());
    std::string got;
    while (put == 0) {
        got += p.take();
        put = t.write(big); // the same bytes again, as a caller that dropped none would pass them
        REQUIRE(put >= 0);
    }
    CHECK(put == static_cast<long>(big.size()));
    got += p.take();
    CHECK(got.size() == 2 + 8 + 4 + big.size()); // a 64-bit length and the mask before the payload
}

TEST_CASE("transport: an answer that is not an upgrade fails with the status line") {
    Pair p;
    Transport t;
    t.open(p.client, nullptr, {"127.0.0.1", 9001, true, "/mqtt"});
    REQUIRE(t.handshake() == Transport::Step::want_read);
    (void)p.take();
    p.give("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    CHECK(t.handshake() == Transport::Step::failed);
    CHECK(t.why().find("404") != std::string::npos);
    CHECK(t.timeout_text().find("WebSocket") != std::string::npos);
}
