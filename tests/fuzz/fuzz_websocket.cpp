// libFuzzer target: the broker's WebSocket frames. Any bytes, split anywhere, give the same MQTT
// bytes, the same pongs (their payloads; masks differ) and the same outcome as read at once.
#include "mqttwire/websocket.hpp"
#include <cstdlib>
#include <string>

namespace {
struct Outcome {
    std::string data;
    size_t control = 0;
    int end = 0; // 0 going on, 1 closed, 2 error
    std::string why;
};
Outcome read(std::string_view a, std::string_view b) {
    m2m::wire::WsReader r;
    Outcome o;
    std::string control;
    for (auto part : {a, b}) {
        auto ev = r.feed(part, o.data, control);
        if (!ev) {
            o.end = 2;
            o.why = ev.error().message;
            if (o.why.empty()) std::abort();
            break;
        }
        if (*ev == m2m::wire::WsReader::Event::close) {
            o.end = 1;
            o.why = r.why;
            break;
        }
    }
    o.control = control.size();
    return o;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    size_t cut = data[0] % (bytes.size() + 1);
    Outcome whole = read(bytes, {}), split = read(bytes.substr(0, cut), bytes.substr(cut));
    // data reaches the same point (a split stream may pass on bytes of an erroneous frame's
    // predecessors earlier, never other bytes)
    if (whole.end != split.end || whole.why != split.why || whole.control != split.control) std::abort();
    if (whole.data != split.data) std::abort();
    return 0;
}
