// libFuzzer target: the console's input. Any bytes give the same keys however they are split
// across reads; any keys leave the input line valid (the cursor inside it); a typed line either
// unescapes or is refused with a message; the line-ending maps take any bytes.
#include "console/keys.hpp"
#include "console/line_editor.hpp"
#include "links/line_control.hpp"
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    size_t cut = data[0] % (bytes.size() + 1);
    using namespace m2m::console;
    std::vector<Key> whole, split;
    KeyDecoder a, b;
    a.feed(bytes, whole);
    b.feed(bytes.substr(0, cut), split);
    b.feed(bytes.substr(cut), split);
    if (whole != split) std::abort();
    LineEditor e;
    for (auto& k : whole) {
        if (e.key(k) == LineEditor::Result::submit) {
            auto line = e.take();
            auto u = unescape_line(line);
            if (!u && u.error().message.empty()) std::abort();
        }
        if (e.cursor_column() > e.text().size()) std::abort();
    }
    static const auto map = *m2m::ByteMap::parse("ICRNL,INLCRNL,ONLCRNL,OLTU,ODELBS");
    if (map.input(bytes).size() > 2 * bytes.size() || map.output(bytes).size() > 2 * bytes.size())
        std::abort();
    return 0;
}
