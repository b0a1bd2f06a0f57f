// libFuzzer target: Sparkplug B payloads. Any bytes either fail to decode with a message, or give
// JSON that encodes back to a payload which decodes to the same JSON (nothing read is lost).
#include "sparkplug/sparkplug.hpp"
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto json = m2m::sparkplug::to_json(in);
    if (!json) {
        if (json.error().message.empty()) std::abort();
        return 0;
    }
    auto again = m2m::sparkplug::from_json(*json, 0);
    if (!again) std::abort(); // what was decoded must encode
    auto json2 = m2m::sparkplug::to_json(*again);
    if (!json2 || *json2 != *json) std::abort();
    return 0;
}
