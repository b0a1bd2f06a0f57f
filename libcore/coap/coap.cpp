#include "coap/coap.hpp"
#include "util/duration.hpp"
#include "util/module.hpp"
#include <fmt/format.h>

namespace m2m::coap {

bool is_endpoint(std::string_view endpoint) {
    return endpoint.starts_with("coap://") || endpoint.starts_with("coaps://");
}

std::string code_text(int code) {
    return fmt::format("{}.{:02}", code / 100, code % 100);
}

Client::Options Client::options(std::string psk_identity, std::string psk_key_file,
                                std::string_view connect_timeout, Certificates certs) {
    Options o;
    o.certs = std::move(certs);
    o.psk_identity = std::move(psk_identity);
    o.psk_key_file = std::move(psk_key_file);
    if (auto ct = parse_duration(connect_timeout); ct)
        o.connect_timeout_ms = static_cast<int>(ct->count() / 1000);
    return o;
}

Expected<std::unique_ptr<Client>> Client::open(const std::string& uri, Options o) {
    static const auto api = module_api<CoapApi>("m2mkit-ssl.so", "m2mkit_coap", "CoAP (coap://, coaps://)");
    if (!api) return std::unexpected(api.error());
    return (*api)->open(uri, o);
}

} // namespace m2m::coap
