#pragma once
// The byte stream under an MQTT connection: a connected non-blocking socket, optionally TLS,
// optionally WebSocket frames (ws://, wss://). One type for every connection the project makes:
// MqttClient's (every tool) and each of loadgen's thousands. Nothing here blocks; each call does
// what it can and says what it waits for, so the caller chooses between waiting in poll(2) with a
// deadline (MqttClient::connect) and its event loop (loadgen).
#include "util/error.hpp"
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace m2m::wire {

class TlsContext;
class TlsStream;
class Decoder;

struct TransportOptions {
    std::string host; // for TLS's name check and SNI, and the WebSocket Host header
    int port = 0;
    bool websocket = false;
    std::string ws_path = "/mqtt";
};

class Transport {
  public:
    enum class Step { done, want_read, want_write, failed };
    Transport();
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    /// Takes `fd` (connected, or connecting, non-blocking); `tls` null for plain TCP.
    void open(int fd, const TlsContext* tls, TransportOptions o);
    /// Closes the socket (nothing is sent); open() may follow.
    void close();
    int fd() const { return fd_; }
    bool tls() const { return tls_ != nullptr; }
    /// Plain TCP: no TLS, no WebSocket between MQTT and the socket.
    bool plain() const { return !tls_ && !ws_; }
    /// Whether the handshakes are done and MQTT bytes flow.
    bool ready() const { return phase_ == Phase::open; }
    /// Steps the TLS handshake, then the WebSocket upgrade: done when both are complete.
    /// failed: why() says what went wrong.
    Step handshake();
    /// What a caller that gives up waiting in handshake() reports.
    std::string timeout_text() const;

    /// The most one read() takes from the socket (a shorter read took all there was).
    static constexpr size_t read_size = 64 * 1024;
    /// One read: the MQTT bytes in it go to `dec`. Returns the bytes read from the socket (> 0),
    /// 0 when none are there now, -1 when the connection is gone (why()).
    long read(Decoder& dec);
    /// Writes `pending` (the caller's unwritten MQTT bytes) as far as the socket takes them and
    /// returns how many of them are written; the caller drops that many and passes the rest next
    /// time, with what it added after. Over WebSockets a frame counts once it is out entirely.
    /// -1 when the connection is gone.
    long write(std::string_view pending);
    /// Whether bytes the caller no longer holds (a frame partly written, a pong) wait for the socket.
    bool wants_write() const;
    /// Why the connection failed, in words.
    const std::string& why() const { return why_; }

  private:
    enum class Phase : uint8_t { tls, ws_send, ws_recv, open };
    struct Ws; // the WebSocket layer's state, made only for ws:// and wss://
    long raw_read(char* buf, size_t n);
    long raw_write(const char* buf, size_t n);
    long lost(std::string why);

    // kept small: loadgen holds 100,000 of these
    int fd_ = -1;
    Phase phase_ = Phase::open;
    std::unique_ptr<TlsStream> tls_;
    std::unique_ptr<Ws> ws_;
    std::string why_;
};

} // namespace m2m::wire
