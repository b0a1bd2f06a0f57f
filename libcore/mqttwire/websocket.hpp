#pragma once
// MQTT over WebSockets (RFC 6455, client side; MQTT 5.0 section 6): the opening handshake with
// subprotocol "mqtt", and binary frames both ways. The client masks what it sends; the broker's
// frames are read in any split, pings answered, a close reported.
#include "util/error.hpp"
#include <cstdint>
#include <string>
#include <string_view>

namespace m2m::wire {

/// A fresh Sec-WebSocket-Key: 16 random bytes in base64 (from the module: empty when it cannot load).
std::string ws_key();
/// The Sec-WebSocket-Accept a server must answer `key` with (base64 of SHA-1 of key + GUID).
std::string ws_accept(std::string_view key);
/// The HTTP request that opens the connection (host as the Host header wants it).
std::string ws_request(std::string_view host, int port, bool tls, std::string_view path,
                       std::string_view key);
/// Checks the broker's answer (the header up to and including the blank line): 101, the accept
/// value for `key`, subprotocol mqtt. The error says what was wrong, with the status line.
Status ws_check_response(std::string_view header, std::string_view key);

enum : uint8_t { ws_continuation = 0, ws_text = 1, ws_binary = 2, ws_close = 8, ws_ping = 9, ws_pong = 10 };

/// A masking key for the next frame.
uint32_t ws_mask();
/// Appends one masked frame (FIN set) holding `payload`.
void ws_frame(std::string& out, uint8_t opcode, std::string_view payload, uint32_t mask);

/// The broker's frames: binary (and continuation) payloads are the MQTT stream.
class WsReader {
  public:
    enum class Event { none, close };
    /// Takes bytes as they come; MQTT bytes go to `data`, pong frames to send to `control`.
    /// Event::close when the broker closed (`why` names its code); an error for a frame no
    /// server may send (masked, a bad opcode, a control frame over 125 bytes).
    Expected<Event> feed(std::string_view bytes, std::string& data, std::string& control);
    std::string why;

  private:
    std::string buf_;
    uint64_t remaining_ = 0; // bytes of the current data frame still to come
};

} // namespace m2m::wire
