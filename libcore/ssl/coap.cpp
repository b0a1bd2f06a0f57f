// libcoap for coap:// and coaps://: the module side of coap/coap.hpp.
#include "coap/coap.hpp"
#include "ssl/module.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <syslog.h>
#include <unistd.h>
#include <vector>

namespace m2m::ssl {

using namespace coap;

namespace {

/// --cert and --key (PEM) are a certificate and the key that belongs to it: said before libcoap
/// is given them (it says only that it cannot open a session).
Status check_pair(const std::string& cert, const std::string& key) {
    if (cert.empty()) return {};
    std::string why;
    FILE* f = std::fopen(cert.c_str(), "r");
    X509* x = f ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
    if (f) std::fclose(f);
    f = std::fopen(key.c_str(), "r");
    EVP_PKEY* k = f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
    if (f) std::fclose(f);
    if (!x)
        why = fmt::format("--cert '{}' is not a PEM certificate", cert);
    else if (!k)
        why = fmt::format("--key '{}' is not a PEM private key (without a passphrase)", key);
    else if (X509_check_private_key(x, k) != 1)
        why = fmt::format("--key '{}' does not belong to --cert '{}'", key, cert);
    X509_free(x);
    EVP_PKEY_free(k);
    if (!why.empty()) return fail(Exit::usage, why);
    return {};
}

class Libcoap final : public Client {
  public:
    explicit Libcoap(std::string uri) : Client(std::move(uri)) {}

    coap_context_t* ctx = nullptr;
    coap_session_t* session = nullptr;
    std::vector<std::pair<uint16_t, std::string>> uri_opts; // Uri-Path and Uri-Query, in order
    std::string psk_identity, psk_key;                      // coaps:// with a pre-shared key
    std::string host, sni;                                  // coaps:// with certificates: whom we expect
    Options opt;
    // the request being answered
    std::string token;
    bool done = false;
    Answer ans;
    // observe
    std::function<void(const Notification&)> notify; // set by get()
    bool observing = false, stop_observing = false, cancelled = false;
    int64_t first_answer_by = 0; // get(): when its first answer is given up

    ~Libcoap() override {
        if (session) coap_session_release(session);
        if (ctx) coap_free_context(ctx);
    }

    bool ours(const coap_pdu_t* received) const {
        coap_bin_const_t t = coap_pdu_get_token(received);
        return std::string_view(reinterpret_cast<const char*>(t.s), t.length) == token;
    }

    static Libcoap* of(coap_session_t* s) {
        return static_cast<Libcoap*>(coap_get_app_data(coap_session_get_context(s)));
    }

    static coap_response_t on_response(coap_session_t* s, const coap_pdu_t*, const coap_pdu_t* received,
                                       const coap_mid_t) {
        Libcoap* self = of(s);
        if (!self->ours(received)) return COAP_RESPONSE_OK; // a late answer to an earlier NON
        int c = coap_pdu_get_code(received);
        int code = COAP_RESPONSE_CLASS(c) * 100 + (c & 0x1F);
        size_t len = 0, offset = 0, total = 0;
        const uint8_t* data = nullptr;
        std::string payload;
        if (coap_get_data_large(received, &len, &data, &offset, &total) && data)
            payload.assign(reinterpret_cast<const char*>(data), len);
        if (self->notify) { // observing (or one GET)
            Notification n;
            n.code = code;
            n.payload = std::move(payload);
            coap_opt_iterator_t it;
            if (coap_opt_t* o = coap_check_option(received, COAP_OPTION_CONTENT_FORMAT, &it))
                n.content_format =
                    static_cast<int>(coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
            if (coap_opt_t* o = coap_check_option(received, COAP_OPTION_OBSERVE, &it))
                n.observe = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
            self->ans.reached = true;
            if (n.observe < 0 || code >= 300) self->stop_observing = true;
            self->notify(n);
            return COAP_RESPONSE_OK;
        }
        self->ans.reached = true;
        self->ans.code = code;
        self->ans.payload = std::move(payload);
        if (code >= 300) {
            std::string first = self->ans.payload.substr(0, self->ans.payload.find_first_of("\r\n"));
            self->ans.why = fmt::format("CoAP {}{}", code_text(code), first.empty() ? "" : ": " + first);
            self->ans.retry = code >= 500;
        }
        self->done = true;
        return COAP_RESPONSE_OK;
    }

    static void on_nack(coap_session_t* s, const coap_pdu_t* sent, const coap_nack_reason_t reason,
                        const coap_mid_t) {
        Libcoap* self = of(s);
        if (sent && !self->ours(sent)) return;
        switch (reason) {
        case COAP_NACK_TOO_MANY_RETRIES:
            self->ans.why = fmt::format("no answer (sent {} times)", self->opt.max_retransmit + 1);
            self->ans.retry = true;
            break;
        case COAP_NACK_TLS_FAILED:
            self->ans.why = !self->psk_key.empty()
                                ? "DTLS: the handshake failed (a wrong --psk-identity or key?)"
                                : "DTLS: the session failed";
            break;
        case COAP_NACK_RST:
            self->ans.reached = true;
            self->ans.why = "the server reset the request (RST)";
            break;
        default:
            self->ans.why = "not deliverable: nothing answers at that address and port";
            self->ans.retry = true;
        }
        self->done = true;
        self->stop_observing = true;
    }

    coap_pdu_t* pdu(coap_pdu_code_t code) {
        coap_pdu_t* p = coap_pdu_init(opt.confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, code,
                                      coap_new_message_id(session), coap_session_max_pdu_size(session));
        if (!p) return nullptr;
        uint8_t tok[8];
        size_t len = 0;
        coap_session_new_token(session, &len, tok);
        coap_add_token(p, len, tok);
        token.assign(reinterpret_cast<const char*>(tok), len);
        return p;
    }

    /// The server's certificate, checked once the handshake is done and before anything is sent:
    /// signed by a CA of --cafile/--capath (the system's store when neither is given) and naming the
    /// host asked for (an IP address or DNS name in subjectAltName, as OpenSSL checks them). libcoap
    /// 4.3.1 is told not to verify: it loads a CA file only beside a certificate of our own, and its
    /// failures come without the reason; OpenSSL's reason is the user's.
    Status verify_server() const {
        coap_tls_library_t lib{};
        auto* ssl = static_cast<SSL*>(coap_session_get_tls(session, &lib));
        if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL)
            return fail(Exit::runtime, "DTLS: no OpenSSL session to check");
        X509* peer = SSL_get1_peer_certificate(ssl);
        if (!peer) return fail(Exit::unavailable, "DTLS: the server sent no certificate");
        const auto& c = opt.certs;
        X509_STORE* store = X509_STORE_new();
        bool loaded = c.cafile.empty() && c.capath.empty()
                          ? X509_STORE_set_default_paths(store) == 1
                          : X509_STORE_load_locations(store, c.cafile.empty() ? nullptr : c.cafile.c_str(),
                                                      c.capath.empty() ? nullptr : c.capath.c_str()) == 1;
        X509_STORE_CTX* ctx = X509_STORE_CTX_new();
        std::string why;
        if (!loaded) {
            why = fmt::format("cannot load the CA certificates {}", c.cafile.empty() ? c.capath : c.cafile);
        } else if (X509_STORE_CTX_init(ctx, store, peer, SSL_get_peer_cert_chain(ssl)) == 1) {
            X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
            X509_VERIFY_PARAM_set_depth(param, 8);
            in6_addr ip{};
            bool is_ip =
                ::inet_pton(AF_INET, host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, host.c_str(), &ip) == 1;
            if (is_ip)
                X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
            else
                X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
            if (X509_verify_cert(ctx) != 1) {
                int err = X509_STORE_CTX_get_error(ctx);
                why = err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH
                          ? fmt::format("the server's certificate is not for '{}'", host)
                          : fmt::format("the server's certificate is not trusted: {} ({})",
                                        X509_verify_cert_error_string(err),
                                        !c.cafile.empty()   ? "--cafile " + c.cafile
                                        : !c.capath.empty() ? "--capath " + c.capath
                                                            : "the system's CAs; give --cafile");
            }
        } else {
            why = "cannot check the server's certificate";
        }
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        X509_free(peer);
        if (!why.empty()) return fail(Exit::unavailable, "DTLS: " + why);
        return {};
    }

    /// Runs libcoap until `until` is true or `limit_us` passes; false on the time limit.
    bool run(int64_t limit_us, const std::function<bool()>& until) {
        int64_t deadline = mono_us() + limit_us;
        while (!until()) {
            int64_t left = deadline - mono_us();
            if (left <= 0) return false;
            coap_io_process(ctx, static_cast<uint32_t>(std::min<int64_t>(left / 1000 + 1, 100)));
        }
        return true;
    }

    /// Why nothing came back: a DTLS session that never got through its handshake says so.
    std::string silent() const {
        if (!psk_key.empty() && coap_session_get_state(session) != COAP_SESSION_STATE_ESTABLISHED)
            return "DTLS: no handshake (a wrong --psk-identity or key?)";
        return "no answer in time";
    }

    int64_t give_up_us() const { // the whole retransmission window, and a margin
        return int64_t{opt.ack_timeout_ms} * 1000 * ((int64_t{1} << (opt.max_retransmit + 1)) - 1) * 3 / 2 +
               2000000;
    }
    Answer request(std::string_view method, std::string_view payload, int content_format,
                   std::string_view path = {}) override;
    void set_confirmable(bool con) override;
    Status start(std::string_view method, std::string_view path, std::string_view payload,
                 int content_format) override;
    std::optional<Answer> answer() override;
    Status get(bool observe, std::function<void(const Notification&)> on) override;
    int fd() const override;
    void process() override;
    bool failed() const override;
    bool ended() const override;
    const std::string& why() const override;
    void cancel() override;
};

Expected<std::unique_ptr<Client>> open(const std::string& uri, const Client::Options& o) {
    bool dtls = uri.starts_with("coaps://");
    std::string key;
    const auto& c = o.certs;
    bool psk = !o.psk_identity.empty() || !o.psk_key_file.empty();
    bool pki = !c.cafile.empty() || !c.capath.empty() || !c.cert.empty() || !c.key.empty() || c.insecure;
    if (dtls && psk && pki)
        return fail(Exit::usage,
                    "coaps:// takes a pre-shared key (--psk-identity, --psk-key-file) or certificates "
                    "(--cafile, --cert, --key, --insecure), not both");
    if (dtls && !psk) {
        if (c.cert.empty() != c.key.empty()) return fail(Exit::usage, "--cert and --key go together");
        for (auto [flag, file] : {std::pair{"--cafile", &c.cafile}, {"--cert", &c.cert}, {"--key", &c.key}})
            if (!file->empty() && ::access(file->c_str(), R_OK) != 0)
                return fail(Exit::usage, fmt::format("{}: cannot read '{}'", flag, *file));
        if (auto st = check_pair(c.cert, c.key); !st) return std::unexpected(st.error());
        if (c.insecure)
            log::warn("--insecure: the server's certificate is not checked; anyone on the path can read and "
                      "change this session");
    } else if (dtls) {
        if (o.psk_identity.empty() || o.psk_key_file.empty())
            return fail(Exit::usage, fmt::format("{}: a pre-shared key needs both --psk-identity and "
                                                 "--psk-key-file",
                                                 uri));
        std::ifstream f(o.psk_key_file, std::ios::binary);
        if (!f) return fail(Exit::usage, fmt::format("--psk-key-file: cannot read '{}'", o.psk_key_file));
        key.assign(std::istreambuf_iterator<char>(f), {});
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
            key.pop_back();
        if (key.empty())
            return fail(Exit::usage, fmt::format("--psk-key-file '{}' is empty", o.psk_key_file));
    } else if (psk) {
        return fail(Exit::usage, "--psk-identity and --psk-key-file go with coaps://");
    } else if (pki) {
        return fail(Exit::usage, "--cafile, --capath, --cert, --key and --insecure go with coaps://");
    }
    static bool started = [] {
        coap_startup();
        coap_set_log_level(LOG_EMERG); // failures are reported by m2mkit, in its words
        coap_dtls_set_log_level(LOG_EMERG);
        return true;
    }();
    (void)started;
    coap_uri_t u{};
    std::string text = uri;
    if (coap_split_uri(reinterpret_cast<const uint8_t*>(text.data()), text.size(), &u) < 0)
        return fail(Exit::usage, fmt::format("bad CoAP URI '{}': expected coap://HOST[:PORT]/PATH", uri));
    std::string host(reinterpret_cast<const char*>(u.host.s), u.host.length);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    auto impl = std::make_unique<Libcoap>(uri);
    impl->opt = o;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(u.port);
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return fail(Exit::unavailable,
                    fmt::format("{}: cannot resolve '{}': {}", uri, host, ::gai_strerror(rc)));
    coap_address_t dst;
    coap_address_init(&dst);
    dst.size = res->ai_addrlen;
    std::memcpy(&dst.addr, res->ai_addr, res->ai_addrlen);
    ::freeaddrinfo(res);
    impl->ctx = coap_new_context(nullptr);
    if (!impl->ctx) return fail(Exit::runtime, "libcoap: no context");
    coap_context_set_block_mode(impl->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_set_app_data(impl->ctx, impl.get());
    coap_register_response_handler(impl->ctx, &Libcoap::on_response);
    coap_register_nack_handler(impl->ctx, &Libcoap::on_nack);
    if (dtls && !psk) {
        impl->host = host;
        coap_dtls_pki_t setup{};
        setup.version = COAP_DTLS_PKI_SETUP_VERSION;
        setup.verify_peer_cert = 0; // checked by verify_server() once the handshake is done
        in6_addr ip{};
        if (::inet_pton(AF_INET, host.c_str(), &ip) != 1 && ::inet_pton(AF_INET6, host.c_str(), &ip) != 1) {
            impl->sni = host; // a name, not an address: the server may pick its certificate by it
            setup.client_sni = impl->sni.data();
        }
        setup.pki_key.key_type = COAP_PKI_KEY_PEM;
        setup.pki_key.key.pem.public_cert = c.cert.empty() ? nullptr : impl->opt.certs.cert.c_str();
        setup.pki_key.key.pem.private_key = c.key.empty() ? nullptr : impl->opt.certs.key.c_str();
        impl->session = coap_new_client_session_pki(impl->ctx, nullptr, &dst, COAP_PROTO_DTLS, &setup);
    } else if (dtls) {
        impl->psk_identity = o.psk_identity;
        impl->psk_key = key;
        coap_dtls_cpsk_t setup{};
        setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
        setup.psk_info.identity = {impl->psk_identity.size(),
                                   reinterpret_cast<const uint8_t*>(impl->psk_identity.data())};
        setup.psk_info.key = {impl->psk_key.size(), reinterpret_cast<const uint8_t*>(impl->psk_key.data())};
        impl->session = coap_new_client_session_psk2(impl->ctx, nullptr, &dst, COAP_PROTO_DTLS, &setup);
    } else {
        impl->session = coap_new_client_session(impl->ctx, nullptr, &dst, COAP_PROTO_UDP);
    }
    if (!impl->session) return fail(Exit::unavailable, fmt::format("{}: cannot open a UDP session", uri));
    if (dtls) { // the handshake first, within --connect-timeout: a wrong key shows here, in words
        auto* s = impl->session;
        impl->run(int64_t{o.connect_timeout_ms} * 1000, [s] {
            auto st = coap_session_get_state(s);
            return st == COAP_SESSION_STATE_ESTABLISHED || st == COAP_SESSION_STATE_NONE;
        });
        auto st = coap_session_get_state(s);
        if (st != COAP_SESSION_STATE_ESTABLISHED && !psk && st == COAP_SESSION_STATE_NONE)
            return fail(
                Exit::unavailable,
                fmt::format("{}: DTLS: no handshake (nothing listening, or the server refused {})", uri,
                            c.cert.empty() ? "it: does it want a certificate of ours, --cert and --key?"
                                           : "--cert"));
        if (st == COAP_SESSION_STATE_ESTABLISHED && !psk && !c.insecure)
            if (auto v = impl->verify_server(); !v)
                return fail(Exit::unavailable, fmt::format("{}: {}", uri, v.error().message));
        if (st != COAP_SESSION_STATE_ESTABLISHED)
            return fail(Exit::unavailable,
                        fmt::format("{}: DTLS: no handshake within {} ms (nothing listening{})", uri,
                                    o.connect_timeout_ms, psk ? ", or a wrong --psk-identity or key" : ""));
    }
    coap_fixed_point_t ack{static_cast<uint16_t>(o.ack_timeout_ms / 1000),
                           static_cast<uint16_t>(o.ack_timeout_ms % 1000)};
    coap_session_set_ack_timeout(impl->session, ack);
    coap_session_set_max_retransmit(impl->session, static_cast<uint16_t>(o.max_retransmit));
    // the path and query, as options
    for (auto [part, number] : {std::pair{u.path, uint16_t{COAP_OPTION_URI_PATH}},
                                std::pair{u.query, uint16_t{COAP_OPTION_URI_QUERY}}}) {
        if (!part.length) continue;
        std::vector<unsigned char> buf(part.length + 64);
        size_t buflen = buf.size();
        int n = number == COAP_OPTION_URI_PATH ? coap_split_path(part.s, part.length, buf.data(), &buflen)
                                               : coap_split_query(part.s, part.length, buf.data(), &buflen);
        const unsigned char* at = buf.data();
        for (int i = 0; i < n; ++i) {
            auto* opt = const_cast<coap_opt_t*>(reinterpret_cast<const coap_opt_t*>(at));
            impl->uri_opts.emplace_back(
                number,
                std::string(reinterpret_cast<const char*>(coap_opt_value(opt)), coap_opt_length(opt)));
            at += coap_opt_size(opt);
        }
    }
    return std::unique_ptr<Client>(std::move(impl));
}

Answer Libcoap::request(std::string_view method, std::string_view payload, int content_format,
                        std::string_view path) {
    Libcoap& m = *this;
    if (auto st = start(method, path, payload, content_format); !st)
        return {false, 0, {}, st.error().message, true};
    if (auto a = answer()) return *a; // a NON that left
    m.run(m.give_up_us(), [&] { return m.done; });
    if (!m.done) { // what libcoap would have said by now
        m.ans.why = m.silent();
        m.ans.retry = true;
    }
    m.first_answer_by = 0;
    m.done = false;
    return m.ans;
}

void Libcoap::set_confirmable(bool con) {
    opt.confirmable = con;
}

std::optional<Answer> Libcoap::answer() {
    Libcoap& m = *this;
    if (!m.done) return std::nullopt;
    m.done = false;
    m.first_answer_by = 0;
    return m.ans;
}

Status Libcoap::start(std::string_view method, std::string_view path, std::string_view payload,
                      int content_format) {
    Libcoap& m = *this;
    m.ans = {};
    m.done = false;
    m.notify = nullptr;
    m.observing = false;
    coap_pdu_t* p = m.pdu(method == "PUT" ? COAP_REQUEST_CODE_PUT : COAP_REQUEST_CODE_POST);
    if (!p) return fail(Exit::runtime, "libcoap: no PDU");
    coap_optlist_t* chain = nullptr;
    for (auto& [number, value] : m.uri_opts)
        if (path.empty() || number != COAP_OPTION_URI_PATH)
            coap_insert_optlist(&chain, coap_new_optlist(number, value.size(),
                                                         reinterpret_cast<const uint8_t*>(value.data())));
    while (!path.empty()) { // its segments, as Uri-Path options
        auto slash = path.find('/');
        std::string_view seg = path.substr(0, slash);
        if (!seg.empty())
            coap_insert_optlist(&chain, coap_new_optlist(COAP_OPTION_URI_PATH, seg.size(),
                                                         reinterpret_cast<const uint8_t*>(seg.data())));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    }
    if (content_format >= 0) {
        uint8_t buf[4];
        coap_insert_optlist(
            &chain, coap_new_optlist(
                        COAP_OPTION_CONTENT_FORMAT,
                        coap_encode_var_safe(buf, sizeof buf, static_cast<unsigned>(content_format)), buf));
    }
    coap_add_optlist_pdu(p, &chain);
    coap_delete_optlist(chain);
    // blockwise (RFC 7959) when it does not fit one datagram: libcoap sends the blocks in turn
    coap_add_data_large_request(m.session, p, payload.size(),
                                reinterpret_cast<const uint8_t*>(payload.data()), nullptr, nullptr);
    if (coap_send(m.session, p) == COAP_INVALID_MID)
        return fail(Exit::runtime, "libcoap could not send the request");
    if (!m.opt.confirmable && payload.size() <= 1024) { // a NON that fits one datagram: it left
        coap_io_process(m.ctx, COAP_IO_NO_WAIT);
        if (!m.done) m.ans.reached = true;
        m.done = true;
        return {};
    }
    m.first_answer_by = mono_us() + m.give_up_us();
    return {};
}

Status Libcoap::get(bool observe, std::function<void(const Notification&)> on) {
    Libcoap& m = *this;
    m.ans = {};
    m.done = m.stop_observing = false;
    m.observing = observe;
    m.notify = std::move(on);
    coap_pdu_t* p = m.pdu(COAP_REQUEST_CODE_GET);
    if (!p) return fail(Exit::runtime, "libcoap: no PDU");
    coap_optlist_t* chain = nullptr;
    if (observe)
        coap_insert_optlist(&chain, coap_new_optlist(COAP_OPTION_OBSERVE, 0, nullptr)); // 0: register
    for (auto& [number, value] : m.uri_opts)
        coap_insert_optlist(
            &chain, coap_new_optlist(number, value.size(), reinterpret_cast<const uint8_t*>(value.data())));
    coap_add_optlist_pdu(p, &chain);
    coap_delete_optlist(chain);
    if (coap_send(m.session, p) == COAP_INVALID_MID)
        return fail(Exit::runtime, "libcoap could not send the request");
    m.first_answer_by = mono_us() + m.give_up_us();
    return {};
}

int Libcoap::fd() const {
    return coap_context_get_coap_fd(ctx);
}

void Libcoap::process() {
    Libcoap& m = *this;
    coap_io_process(m.ctx, COAP_IO_NO_WAIT);
    if (!m.ans.reached && !m.done && m.first_answer_by && mono_us() > m.first_answer_by) {
        m.ans.why = m.silent();
        m.ans.retry = true;
        m.done = true;
    }
}

bool Libcoap::failed() const {
    return done && !ans.reached;
}

bool Libcoap::ended() const {
    return stop_observing || (ans.reached && !observing);
}

const std::string& Libcoap::why() const {
    return ans.why;
}

void Libcoap::cancel() {
    Libcoap& m = *this;
    if (!m.observing || m.cancelled) return;
    m.cancelled = true;
    coap_binary_t tok{m.token.size(), reinterpret_cast<uint8_t*>(m.token.data())};
    coap_cancel_observe(m.session, &tok, m.opt.confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON);
    coap_io_process(m.ctx, COAP_IO_NO_WAIT);
}

const CoapApi api{&open};

} // namespace

} // namespace m2m::ssl

extern "C" M2MKIT_MODULE_EXPORT const m2m::coap::CoapApi* m2mkit_coap() {
    return &m2m::ssl::api;
}
