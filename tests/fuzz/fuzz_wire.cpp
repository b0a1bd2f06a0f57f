// libFuzzer target for the MQTT packet decoder (loadgen's hot path): no crash, and any split of
// the stream gives the same packets and the same error.
#include "mqttwire/wire.hpp"
#include <cstdlib>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {
std::vector<std::string> run(std::string_view data, size_t split, int version) {
    m2m::wire::Decoder d(4096, version);
    std::vector<std::string> out;
    for (size_t at = 0; at < data.size(); at += split) {
        d.feed(data.substr(at, split));
        m2m::wire::Packet p;
        for (;;) {
            auto r = d.next(p);
            if (!r) {
                out.push_back("error: " + r.error().message);
                return out;
            }
            if (!*r) break;
            out.push_back(fmt::format("{}:{}:{}:{}:{}:{}:{}:{}", +p.type, p.flags, p.id, p.return_code,
                                      p.topic, p.payload, p.session_present, p.props));
            std::string_view v;
            if (m2m::wire::user_property(p.props, "lg", v)) out.back() += v;
        }
    }
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    std::string_view data(reinterpret_cast<const char*>(bytes), size);
    size_t split = size ? 1 + bytes[0] % 13 : 1;
    int version = size && (bytes[0] & 0x80) ? m2m::wire::v5 : m2m::wire::v311;
    if (run(data, data.size() + 1, version) != run(data, split, version)) std::abort();
    return 0;
}
