// libFuzzer target: Modbus typed values. Any registers read as any type and order give valid JSON;
// a number or string read back is written as the same registers (exact; a float's -0 reads as 0), and a
// `modbus` object with any "type" keys either encodes or is refused with a message, never crashes.
#include "modbus/modbus.hpp"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <simdjson.h>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    static const char* types[] = {"int16",   "uint16",  "int32",    "uint32",   "int64",    "uint64",
                                  "float32", "float64", "string:1", "string:7", "string:8", "bits"};
    static const char* orders[] = {"ABCD", "CDAB", "BADC", "DCBA"};
    auto spec = *m2m::modbus::parse_type(types[data[0] % 12]);
    spec.order = *m2m::modbus::parse_order(orders[(data[0] >> 4) % 4]);
    bool scaled = data[1] & 1;
    if (scaled) spec.scale = 0.1, spec.offset = -40;
    std::vector<uint16_t> regs;
    for (size_t i = 2; i + 1 < size; i += 2)
        regs.push_back(static_cast<uint16_t>(data[i] << 8 | data[i + 1]));
    std::string all = m2m::modbus::values_json(regs, spec);
    simdjson::dom::parser p;
    if (p.parse(all).error()) std::abort(); // always valid JSON
    size_t n = static_cast<size_t>(m2m::modbus::registers_for(spec));
    if (regs.size() >= n && spec.type != m2m::modbus::Type::bits) {
        std::span<const uint16_t> one(regs.data(), n);
        std::string v = m2m::modbus::value_json(one, spec);
        bool is_string = spec.type == m2m::modbus::Type::string;
        bool ascii = true; // a string round-trips when it is plain ASCII with no NUL (a NUL ends it)
        for (size_t i = 0; i < static_cast<size_t>(spec.length); ++i) {
            uint16_t r = one[i / 2];
            unsigned c = i % 2 == (spec.order.byte_big ? 0u : 1u) ? r >> 8 : r & 0xFF;
            ascii &= c >= 0x20 && c < 0x7F;
        }
        // an odd-length string's last byte is padding, which a write sets to 0: compare even ones only
        if (!scaled && v != "null" && (!is_string || (ascii && spec.length % 2 == 0))) {
            auto back = m2m::modbus::registers_of(v, spec);
            if (!back) std::abort();
            bool floating =
                spec.type == m2m::modbus::Type::float32 || spec.type == m2m::modbus::Type::float64;
            // the same registers, except that a float's -0 reads as 0 (what people read)
            if (!std::equal(back->begin(), back->end(), one.begin(), one.end()) &&
                !(floating && m2m::modbus::value_json(*back, spec) == v))
                std::abort();
        }
    }
    std::string obj(reinterpret_cast<const char*>(data + 2), size - 2);
    (void)m2m::modbus::encode(obj); // typed requests from arbitrary JSON: refused or built
    return 0;
}
