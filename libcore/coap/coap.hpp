#pragma once
// CoAP (RFC 7252) client endpoints on libcoap: coap://HOST[:PORT]/PATH. One request at a time and
// its answer (CON: acknowledged or retransmitted, then given up; NON: sent), blockwise transfer
// for large payloads (RFC 7959, done by libcoap), and Observe (RFC 7641) for iot-sub.
#include "util/error.hpp"
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace m2m::coap {

/// Whether `endpoint` names a CoAP resource (coap://, or coaps://: DTLS with a pre-shared key or
/// certificates).
bool is_endpoint(std::string_view endpoint);

/// The answer to one request.
struct Answer {
    bool reached = false; // the server answered (any code), or a NON left
    int code = 0;         // class * 100 + detail: 204 for 2.04
    std::string payload;  // the response's payload (a diagnostic with 4.xx/5.xx)
    std::string why;      // empty when delivered (2.xx, or a NON sent)
    bool retry = false;   // worth trying again (5.xx, no answer)
};

/// One notification (or the answer to a plain GET).
struct Notification {
    int code = 0;
    std::string payload;
    int content_format = -1; // -1 when absent
    int64_t observe = -1;    // the Observe option's value; -1 when absent (the relation ended)
};

/// "2.05" for 205.
std::string code_text(int code);

/// coaps:// with certificates: the CAs that sign the server's (the system's when none is given),
/// our own certificate and key (for a server that asks for one), and --insecure (no checks).
struct Certificates {
    std::string cafile, capath, cert, key;
    bool insecure = false;
};

/// One CoAP endpoint. The client itself (libcoap, its DTLS through OpenSSL) is in m2mkit's
/// module (libcore/ssl, util/module.hpp), loaded by open(): a run without coap:// does not load it.
class Client {
  public:
    struct Options {
        bool confirmable = true;
        int ack_timeout_ms = 1000; // RFC 7252 says 2 s; CON retransmits at 1, 2, 4 s then gives up
        int max_retransmit = 3;
        // coaps:// with a pre-shared key: the identity, and the file the key is in
        std::string psk_identity, psk_key_file;
        Certificates certs;
        int connect_timeout_ms = 10000; // the DTLS handshake's time (--connect-timeout)
    };
    /// The options the tools' flags give: --psk-identity, --psk-key-file, --connect-timeout (DUR),
    /// and the TLS flags (--cafile, --capath, --cert, --key, --insecure).
    static Options options(std::string psk_identity, std::string psk_key_file,
                           std::string_view connect_timeout, Certificates certs);
    static Expected<std::unique_ptr<Client>> open(const std::string& uri, Options o);
    virtual ~Client() = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends `payload` with `method` ("POST" or "PUT") to `path` (the URI's when empty) and waits for the
    /// answer (CON), or for it to leave (NON). `content_format` -1 adds none.
    virtual Answer request(std::string_view method, std::string_view payload, int content_format,
                           std::string_view path = {}) = 0;
    /// CON (acknowledged, retransmitted) or NON for the requests from now on.
    virtual void set_confirmable(bool con) = 0;
    /// Starts a request without waiting for its answer (the bridge's uplink): `path` ("" for the
    /// URI's) is the resource's path. The caller watches fd() and calls process() when it is readable
    /// and every 100 ms; answer() gives the answer once there is one (a NON: at once, once it left).
    /// One request at a time.
    virtual Status start(std::string_view method, std::string_view path, std::string_view payload,
                         int content_format) = 0;
    /// The answer to what start() sent, once; empty while it is awaited.
    virtual std::optional<Answer> answer() = 0;
    /// Sends a GET (with Observe 0 to register, RFC 7641) whose answers go to `on`: one answer
    /// without `observe`, else each notification until the relation ends. The caller watches fd()
    /// and calls process() when it is readable and every 100 ms (retransmissions).
    virtual Status get(bool observe, std::function<void(const Notification&)> on) = 0;
    /// libcoap's descriptor (its epoll set).
    virtual int fd() const = 0;
    /// Handles what arrived and what is due, without waiting.
    virtual void process() = 0;
    /// The GET got no answer (why() says why), or the relation ended (a notification without
    /// Observe, an error code).
    virtual bool failed() const = 0;
    virtual bool ended() const = 0;
    virtual const std::string& why() const = 0;
    /// Tells the server the relation is over (deregisters), once.
    virtual void cancel() = 0;
    const std::string& uri() const { return uri_; }

  protected:
    explicit Client(std::string uri) : uri_(std::move(uri)) {}

  private:
    std::string uri_;
};

/// What the module gives for CoAP (its "m2mkit_coap").
struct CoapApi {
    Expected<std::unique_ptr<Client>> (*open)(const std::string& uri, const Client::Options& o);
};

} // namespace m2m::coap
