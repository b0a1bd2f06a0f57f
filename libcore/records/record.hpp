#pragma once
// The record: one JSON object per line, the unit every m2mkit tool reads and writes
// (docs/design.md, "The record"). Known fields are typed; every other field is carried through
// with its value byte-exact.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

enum class PayloadKind { none, text, json, hex, b64 };

std::string_view payload_key(PayloadKind kind);

/// A field the tools do not interpret: the key unescaped, the value as raw JSON text.
struct ExtraField {
    std::string key;
    std::string raw_value;
};

struct Record {
    std::string ts;  // RFC 3339; empty when absent
    std::string src; // endpoint URI; empty when absent
    std::string dir; // "rx" / "tx"; empty when absent
    std::optional<uint64_t> seq;
    std::optional<std::string> topic;
    std::optional<int> qos;
    std::optional<bool> retain;
    std::string props_raw; // raw JSON object; empty when absent
    PayloadKind kind = PayloadKind::none;
    /// text: the string; json: the raw JSON text; hex / b64: the decoded bytes.
    std::string payload;
    std::string err;
    std::vector<ExtraField> extra; // user fields and decoder views, in input order

    /// The bytes a frame or message carries: json payloads compacted, others as they are.
    std::string payload_bytes() const;
    /// The same without a copy: a view of the payload, or of `scratch` holding compacted json.
    std::string_view payload_view(std::string& scratch) const;
    void clear();
};

/// How a tool chooses the payload key for bytes it received.
enum class PayloadStyle { auto_, auto_message, text, json, hex, b64 };

/// Stores `bytes` as the record's payload in the requested style. `auto_` picks text when the
/// bytes are printable UTF-8, else `binary` (hex or b64). `auto_message` (MQTT payloads) picks
/// json when the bytes are compact JSON, else text when they are valid UTF-8, else `binary`.
/// json is only chosen for compact JSON (no whitespace outside strings), so that publishing the
/// record again gives back the same bytes. Styles that cannot hold the bytes
/// losslessly (text for invalid UTF-8, json for non-JSON) fall back to `binary`.
void set_payload(Record& r, std::string bytes, PayloadStyle style, PayloadKind binary = PayloadKind::hex);
/// The same for the bytes already in r.payload.
void classify_payload(Record& r, PayloadStyle style, PayloadKind binary = PayloadKind::hex);

/// Appends the record as one JSON line (with the trailing '\n').
void append_jsonl(std::string& out, const Record& r);
/// The leading fields of the last record written and their JSON: a stream of records from one
/// link repeats "ts" (one timestamp per read), "src" and "dir", and a compare is cheaper than
/// writing them again (#18).
struct JsonlCache {
    std::string ts, src, dir;
    std::string head = "{"; // {"ts":"...","src":"...","dir":"rx"
};
/// append_jsonl, reusing `cache` for the leading "ts", "src" and "dir" while they stay the same.
void append_jsonl(std::string& out, const Record& r, JsonlCache& cache);
/// A JSON string; bytes that are not valid UTF-8 become U+FFFD, so every line written is valid.
void append_json_string(std::string& out, std::string_view s);
std::string replace_invalid_utf8(std::string_view s);

} // namespace m2m
