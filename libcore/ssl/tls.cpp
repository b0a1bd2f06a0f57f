// OpenSSL for MQTT over TLS and WebSockets: the module side of mqttwire/tls.hpp.
#include "mqttwire/tls.hpp"
#include "ssl/module.hpp"
#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace m2m::ssl {

using wire::TlsContext;
using wire::TlsOptions;
using wire::TlsStream;

namespace {
std::string ssl_errors() {
    std::string s;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!s.empty()) s += "; ";
        s += buf;
    }
    return s.empty() ? "unknown TLS error" : s;
}
std::string library() {
    return OpenSSL_version(OPENSSL_VERSION);
}

class Context final : public TlsContext {
  public:
    ~Context() override {
        if (ctx_) SSL_CTX_free(ctx_);
    }
    std::unique_ptr<TlsStream> stream(int fd, const std::string& host) const override;
    SSL_CTX* ctx_ = nullptr;
    bool insecure_ = false;
};

class Stream final : public TlsStream {
  public:
    Stream(const Context& ctx, int fd, const std::string& host);
    ~Stream() override {
        if (ssl_) SSL_free(ssl_);
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    Io handshake() override;
    Io read(char* buf, size_t n, size_t& got) override;
    Io write(const char* buf, size_t n, size_t& put) override;
    std::string error() const override { return error_; }

  private:
    Io result(int rc);
    SSL* ssl_ = nullptr;
    std::string error_;
};

Expected<std::shared_ptr<TlsContext>> make(const TlsOptions& o) {
    auto c = std::make_shared<Context>();
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    if (!c->ctx_) return fail(Exit::runtime, "TLS: " + ssl_errors());
    c->insecure_ = o.insecure;
    SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
    // partial writes from a buffer that may move between calls: the out buffer grows
    SSL_CTX_set_mode(c->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!o.cafile.empty() || !o.capath.empty()) {
        if (SSL_CTX_load_verify_locations(c->ctx_, o.cafile.empty() ? nullptr : o.cafile.c_str(),
                                          o.capath.empty() ? nullptr : o.capath.c_str()) != 1)
            return fail(Exit::usage, fmt::format("cannot load the CA certificates {}: {}",
                                                 o.cafile.empty() ? o.capath : o.cafile, ssl_errors()));
    } else if (SSL_CTX_set_default_verify_paths(c->ctx_) != 1) {
        return fail(Exit::runtime, "cannot load the system's CA certificates: " + ssl_errors());
    }
    if (!o.cert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(c->ctx_, o.cert.c_str()) != 1)
            return fail(Exit::usage, fmt::format("cannot load --cert {}: {}", o.cert, ssl_errors()));
        if (SSL_CTX_use_PrivateKey_file(c->ctx_, o.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(c->ctx_) != 1)
            return fail(Exit::usage, fmt::format("cannot use --key {}: {}", o.key, ssl_errors()));
    }
    SSL_CTX_set_verify(c->ctx_, o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    return c;
}

std::unique_ptr<TlsStream> Context::stream(int fd, const std::string& host) const {
    return std::make_unique<Stream>(*this, fd, host);
}

Stream::Stream(const Context& ctx, int fd, const std::string& host) {
    ssl_ = SSL_new(ctx.ctx_);
    SSL_set_fd(ssl_, fd);
    in6_addr a6;
    in_addr a4;
    bool literal = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (!literal) SSL_set_tlsext_host_name(ssl_, host.c_str()); // SNI
    if (!ctx.insecure_) {
        if (literal)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
        else
            SSL_set1_host(ssl_, host.c_str());
    }
    SSL_set_connect_state(ssl_);
}

TlsStream::Io Stream::result(int rc) {
    switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
        return Io::want_read;
    case SSL_ERROR_WANT_WRITE:
        return Io::want_write;
    case SSL_ERROR_ZERO_RETURN:
        error_ = "the broker closed the TLS session";
        return Io::closed;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        error_ = errno ? std::strerror(errno) : "the broker closed the connection";
        return Io::closed;
    default: {
        long v = SSL_get_verify_result(ssl_);
        if (v != X509_V_OK)
            error_ = fmt::format("TLS: the broker's certificate is not trusted: {}",
                                 X509_verify_cert_error_string(v));
        else
            error_ = "TLS: " + ssl_errors();
        ERR_clear_error();
        return Io::error;
    }
    }
}

TlsStream::Io Stream::handshake() {
    int rc = SSL_do_handshake(ssl_);
    return rc == 1 ? Io::done : result(rc);
}

TlsStream::Io Stream::read(char* buf, size_t n, size_t& got) {
    got = 0;
    int rc = SSL_read_ex(ssl_, buf, n, &got);
    return rc == 1 ? Io::done : result(rc);
}

TlsStream::Io Stream::write(const char* buf, size_t n, size_t& put) {
    put = 0;
    int rc = SSL_write_ex(ssl_, buf, n, &put);
    return rc == 1 ? Io::done : result(rc);
}

std::string base64(const unsigned char* p, size_t n) {
    std::string out(4 * ((n + 2) / 3), '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
    out.resize(static_cast<size_t>(len));
    return out;
}

std::string ws_key() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        for (auto& b : raw)
            b = static_cast<unsigned char>(std::rand()); // still unique enough for a nonce
    return base64(raw, sizeof raw);
}

std::string ws_accept(std::string_view key) {
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
    return base64(digest, sizeof digest);
}

const wire::TlsApi api{&make, &library, &ws_key, &ws_accept};

} // namespace

} // namespace m2m::ssl

extern "C" M2MKIT_MODULE_EXPORT const m2m::wire::TlsApi* m2mkit_tls() {
    return &m2m::ssl::api;
}
