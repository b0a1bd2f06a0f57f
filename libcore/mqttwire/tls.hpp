#pragma once
// TLS for libcore's MQTT connections (wire::Transport): OpenSSL on non-blocking sockets, many
// connections in one thread. Verification is on unless the user opted out (--insecure): the
// broker's chain against --cafile/--capath (else the system store) and its name against the host.
//
// OpenSSL lives in m2mkit's module (libcore/ssl, util/module.hpp): these are its interfaces, and
// the module is loaded by the first run that needs TLS or a WebSocket key, not by every start.
#include "util/error.hpp"
#include <memory>
#include <string>
#include <string_view>

namespace m2m::wire {

/// The OpenSSL this process runs with, for --version (loads the module).
std::string tls_library();

struct TlsOptions {
    std::string cafile, capath, cert, key;
    bool insecure = false;
};

/// One client connection over a connected non-blocking socket. Each call does what it can
/// without blocking and says what it waits for.
class TlsStream {
  public:
    enum class Io { done, want_read, want_write, closed, error };
    virtual ~TlsStream() = default;
    /// Steps the handshake; done once it is complete.
    virtual Io handshake() = 0;
    /// Reads up to n bytes into buf; `got` is how many (done), or why none.
    virtual Io read(char* buf, size_t n, size_t& got) = 0;
    /// Writes up to n bytes; `put` is how many were taken.
    virtual Io write(const char* buf, size_t n, size_t& put) = 0;
    /// Why the last call failed, in words (a failed verification names the reason).
    virtual std::string error() const = 0;
};

class TlsContext {
  public:
    /// The CAs, certificate and key loaded and checked: an error names what could not be used.
    static Expected<std::shared_ptr<TlsContext>> make(const TlsOptions& o);
    virtual ~TlsContext() = default;
    /// A stream over `fd` that expects the peer to be `host` (a name or an address).
    virtual std::unique_ptr<TlsStream> stream(int fd, const std::string& host) const = 0;
};

/// What the module gives for MQTT (its "m2mkit_tls").
struct TlsApi {
    Expected<std::shared_ptr<TlsContext>> (*make)(const TlsOptions& o);
    std::string (*library)();
    std::string (*ws_key)();
    std::string (*ws_accept)(std::string_view key);
};

/// The module's TLS functions, loaded once: an error says why it cannot be (WebSockets need it
/// too, for their key's randomness and SHA-1).
Expected<const TlsApi*> tls_api();

} // namespace m2m::wire
