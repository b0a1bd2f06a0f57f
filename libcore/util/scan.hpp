#pragma once
// Word-at-a-time byte scanning: test 8 bytes per step for "might contain a byte of interest",
// then find it byte by byte. The word tests are exact (no false negatives, no false positives),
// so the byte loop runs at most 8 steps per hit.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace m2m::scan {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

inline uint64_t load(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
/// Nonzero when some byte of `v` is below `n` (n <= 128).
inline uint64_t has_less(uint64_t v, uint8_t n) {
    return (v - kOnes * n) & ~v & kHighs;
}
/// Nonzero when some byte of `v` equals `b`.
inline uint64_t has_byte(uint64_t v, uint8_t b) {
    return has_less(v ^ (kOnes * b), 1);
}

/// The index of the first byte at or after `i` with is(byte), or s.size(); `word(v)` must be
/// nonzero exactly when one of the 8 bytes in v satisfies is().
template <typename Word, typename Byte> size_t find_if(std::string_view s, size_t i, Word word, Byte is) {
    while (i + 8 <= s.size() && !word(load(s.data() + i)))
        i += 8;
    while (i < s.size() && !is(static_cast<unsigned char>(s[i])))
        ++i;
    return i;
}

/// First occurrence of byte a or b at or after i.
inline size_t find_either(std::string_view s, size_t i, uint8_t a, uint8_t b) {
    return find_if(
        s, i, [a, b](uint64_t v) { return has_byte(v, a) | has_byte(v, b); },
        [a, b](unsigned char c) { return c == a || c == b; });
}

} // namespace m2m::scan
