#pragma once
// Byte-level helpers that know nothing of the domain: hex, base64, UTF-8 checks.
#include <optional>
#include <string>
#include <string_view>

namespace m2m {

void append_hex(std::string& out, std::string_view bytes);
std::string to_hex(std::string_view bytes);
/// Decodes lowercase or uppercase hex; nullopt on odd length or a non-hex digit.
std::optional<std::string> decode_hex(std::string_view hex);
void append_base64(std::string& out, std::string_view bytes);
/// Decodes standard base64 with padding; nullopt on a bad character or length.
std::optional<std::string> decode_base64(std::string_view b64);
/// No byte over 0x7f.
bool is_ascii(std::string_view s);
bool is_valid_utf8(std::string_view s);
/// Valid UTF-8 with no control characters except tab, CR, LF: shown as text by default.
bool is_printable_text(std::string_view s);

} // namespace m2m
