#include "mqttwire/tls.hpp"
#include "util/module.hpp"

namespace m2m::wire {

Expected<const TlsApi*> tls_api() {
    static const auto api =
        module_api<TlsApi>("m2mkit-ssl.so", "m2mkit_tls", "TLS (mqtts://, wss://) or a WebSocket");
    return api;
}

std::string tls_library() {
    auto api = tls_api();
    return api ? (*api)->library() : "OpenSSL: not loadable (" + api.error().message + ")";
}

Expected<std::shared_ptr<TlsContext>> TlsContext::make(const TlsOptions& o) {
    auto api = tls_api();
    if (!api) return std::unexpected(api.error());
    return (*api)->make(o);
}

} // namespace m2m::wire
