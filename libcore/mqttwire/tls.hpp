#pragma once
// TLS for libcore's MQTT connections (wire::Transport): OpenSSL on non-blocking sockets, many
// connections in one thread. Verification is on unless the user opted out (--insecure): the
// broker's chain against --cafile/--capath (else the system store) and its name against the host.
#include "util/error.hpp"
#include <memory>
#include <string>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace m2m::wire {

/// The OpenSSL this process runs with, for --version.
std::string tls_library();

struct TlsOptions {
    std::string cafile, capath, cert, key;
    bool insecure = false;
};

class TlsContext {
  public:
    static Expected<std::shared_ptr<TlsContext>> make(const TlsOptions& o);
    ~TlsContext();
    SSL_CTX* get() const { return ctx_; }
    bool insecure() const { return insecure_; }

  private:
    SSL_CTX* ctx_ = nullptr;
    bool insecure_ = false;
};

/// One client connection over a connected non-blocking socket. Each call does what it can
/// without blocking and says what it waits for.
class TlsStream {
  public:
    enum class Io { done, want_read, want_write, closed, error };
    TlsStream(const TlsContext& ctx, int fd, const std::string& host);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    /// Steps the handshake; done once it is complete.
    Io handshake();
    /// Reads up to n bytes into buf; `got` is how many (done), or why none.
    Io read(char* buf, size_t n, size_t& got);
    /// Writes up to n bytes; `put` is how many were taken.
    Io write(const char* buf, size_t n, size_t& put);
    /// Why the last call failed, in words (a failed verification names the reason).
    std::string error() const { return error_; }

  private:
    Io result(int rc);
    SSL* ssl_ = nullptr;
    std::string error_;
};

} // namespace m2m::wire
