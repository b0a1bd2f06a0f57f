#include "records/parser.hpp"
#include "util/bytes.hpp"
#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <simdjson.h>

namespace m2m {

// simdjson's DOM parser validates the whole line (structure, UTF-8, numbers, escapes) with the
// best SIMD kernel for the CPU it runs on. Its tree keeps values but not their source text, so
// once a line is known to be valid JSON, RawFields walks its top level to find each value's bytes:
// user fields and json payloads are then carried through exactly as written.
struct RecordParser::Impl {
    simdjson::dom::parser parser;
    std::string buffer; // the line plus simdjson's padding
};

RecordParser::RecordParser() : impl_(std::make_unique<Impl>()) {}
RecordParser::~RecordParser() = default;

namespace {

std::string describe(simdjson::error_code e) {
    switch (e) {
    case simdjson::TAPE_ERROR:
        return "malformed JSON (a missing ',' ':' '}' or ']', or a stray character)";
    case simdjson::UNCLOSED_STRING:
        return "unclosed string (a missing '\"')";
    case simdjson::UTF8_ERROR:
        return "invalid UTF-8";
    case simdjson::UNESCAPED_CHARS:
        return "control character inside a string (escape it)";
    case simdjson::STRING_ERROR:
        return "bad escape in a string";
    case simdjson::NUMBER_ERROR:
        return "malformed number";
    case simdjson::T_ATOM_ERROR:
        return "malformed 'true'";
    case simdjson::F_ATOM_ERROR:
        return "malformed 'false'";
    case simdjson::N_ATOM_ERROR:
        return "malformed 'null'";
    case simdjson::EMPTY:
        return "empty line, expected a JSON object";
    case simdjson::DEPTH_ERROR:
        return "nested too deeply";
    case simdjson::INCORRECT_TYPE:
        return "expected a JSON object";
    default:
        return simdjson::error_message(e);
    }
}

/// Walks the top level of a valid JSON object, yielding each member's value text in order.
class RawFields {
  public:
    explicit RawFields(std::string_view json) : s_(json), at_(json.find('{') + 1) {}
    std::string_view next_value() {
        skip_string(); // the key
        at_ = s_.find(':', at_) + 1;
        skip_ws();
        size_t start = at_;
        int depth = 0;
        for (; at_ < s_.size(); ++at_) {
            char c = s_[at_];
            if (c == '"')
                skip_string(), --at_;
            else if (c == '{' || c == '[')
                ++depth;
            else if ((c == '}' || c == ']') && depth-- == 0)
                break;
            else if (c == ',' && depth == 0)
                break;
        }
        size_t end = at_;
        while (end > start && is_ws(s_[end - 1]))
            --end;
        ++at_;
        return s_.substr(start, end - start);
    }

  private:
    static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
    void skip_ws() {
        while (at_ < s_.size() && is_ws(s_[at_]))
            ++at_;
    }
    void skip_string() { // from anywhere before the opening quote to just past the closing one
        at_ = s_.find('"', at_) + 1;
        for (;;) {
            at_ = s_.find_first_of("\"\\", at_);
            if (s_[at_] == '"') break;
            at_ += 2;
        }
        ++at_;
    }
    std::string_view s_;
    size_t at_;
};

/// A JSON number token as the grammar has it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
    size_t i = 0;
    auto digits = [&] {
        size_t from = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9')
            ++i;
        return i > from;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (i < t.size() && t[i] == '0')
        ++i;
    else if (!digits())
        return false;
    if (i < t.size() && t[i] == '.' && (++i, !digits())) return false;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == t.size();
}

/// simdjson refuses numbers that are valid JSON but do not fit a 64-bit integer or a double
/// (an ICCID such as 89014103211118510720, 1e400). The record format carries user fields
/// byte-exact, so such a line is valid: this copy of it has each of those numbers replaced by -1
/// for simdjson to check the rest. The values themselves are taken from the original line (user
/// fields, json payloads), and a known field that needs a number (seq, qos) is refused as out of
/// range. Empty when no number was replaced (the error was something else).
std::optional<std::string> with_big_numbers_tamed(std::string_view line) {
    std::string out;
    out.reserve(line.size());
    bool replaced = false, in_string = false;
    simdjson::dom::parser alone;
    for (size_t i = 0; i < line.size();) {
        char c = line[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < line.size())
                out += line[++i];
            else if (c == '"')
                in_string = false;
            ++i;
            continue;
        }
        if (c == '"') {
            in_string = true;
            out += c, ++i;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            out += c, ++i;
            continue;
        }
        size_t end = line.find_first_not_of("0123456789+-.eE", i);
        if (end == std::string_view::npos) end = line.size();
        std::string_view token = line.substr(i, end - i);
        std::string padded(token);
        padded.append(simdjson::SIMDJSON_PADDING, '\0');
        simdjson::dom::element e;
        if (is_json_number(token) &&
            alone.parse(padded.data(), token.size(), false).get(e) != simdjson::SUCCESS) {
            out += "-1";
            replaced = true;
        } else {
            out += token;
        }
        i = end;
    }
    if (!replaced) return std::nullopt;
    return out;
}

enum Known : unsigned {
    k_ts = 1,
    k_src = 2,
    k_dir = 4,
    k_seq = 8,
    k_topic = 16,
    k_qos = 32,
    k_retain = 64,
    k_props = 128,
    k_err = 256,
    k_payload = 512,
};

struct KnownKey {
    std::string_view name;
    unsigned bit;
    PayloadKind kind;
};
constexpr KnownKey kKnown[] = {
    {"ts", k_ts, PayloadKind::none},         {"src", k_src, PayloadKind::none},
    {"dir", k_dir, PayloadKind::none},       {"seq", k_seq, PayloadKind::none},
    {"topic", k_topic, PayloadKind::none},   {"qos", k_qos, PayloadKind::none},
    {"retain", k_retain, PayloadKind::none}, {"props", k_props, PayloadKind::none},
    {"err", k_err, PayloadKind::none},       {"text", k_payload, PayloadKind::text},
    {"json", k_payload, PayloadKind::json},  {"hex", k_payload, PayloadKind::hex},
    {"b64", k_payload, PayloadKind::b64},
};

const KnownKey* find_known(std::string_view key) {
    if (key.size() < 2 || key.size() > 6) return nullptr;
    for (auto& k : kKnown) // by length and first letter before comparing
        if (k.name.size() == key.size() && k.name[0] == key[0] && k.name == key) return &k;
    return nullptr;
}

} // namespace

Status RecordParser::parse(std::string_view line, Record& out) {
    out.clear();
    auto bad = [](std::string what) { return fail(Exit::bad_data, std::move(what)); };
    if (auto nul = line.find('\0'); nul != std::string_view::npos)
        return bad(fmt::format("column {}: NUL byte in a record line", nul + 1));
    if (auto first = line.find_first_not_of(" \t\r"); first != std::string_view::npos && line[first] != '{')
        return bad("malformed JSON: expected a JSON object ('{'), one record per line");
    auto& buf = impl_->buffer;
    buf.assign(line);
    buf.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::dom::element root;
    auto e = impl_->parser.parse(buf.data(), line.size(), false).get(root);
    bool tamed = false;
    if (e == simdjson::NUMBER_ERROR) {
        if (auto copy = with_big_numbers_tamed(line)) {
            buf.assign(*copy);
            buf.append(simdjson::SIMDJSON_PADDING, '\0');
            e = impl_->parser.parse(buf.data(), copy->size(), false).get(root);
            tamed = true;
        }
    }
    if (e) return bad(describe(e));
    simdjson::dom::object obj;
    if (root.get(obj)) return bad("expected a JSON object, one record per line");

    // The raw text of a value is needed only for user fields, json payloads and props; the scan
    // that finds it starts at the first such field and catches up with the fields before it.
    std::optional<RawFields> raw;
    size_t index = 0, scanned = 0;
    auto raw_text = [&]() {
        if (!raw) raw.emplace(line);
        std::string_view text;
        while (scanned <= index)
            text = raw->next_value(), ++scanned;
        return text;
    };
    unsigned seen = 0;
    std::string_view payload_name;
    for (auto [key, value] : obj) {
        const KnownKey* known = find_known(key);
        if (!known) {
            out.extra.push_back(ExtraField{std::string(key), std::string(raw_text())});
            ++index;
            continue;
        }
        if (seen & known->bit) {
            if (known->bit == k_payload)
                return bad(fmt::format("two payload keys ('{}' and '{}'): a record carries exactly one of "
                                       "text, json, hex, b64",
                                       payload_name, key));
            return bad(fmt::format("duplicate key '{}'", key));
        }
        seen |= known->bit;
        auto str = [&](std::string& dst) -> Status {
            std::string_view s;
            if (value.get(s)) return bad(fmt::format("'{}' must be a string", key));
            dst.assign(s);
            return {};
        };
        Status st;
        switch (known->bit) {
        case k_ts:
            st = str(out.ts);
            break;
        case k_src:
            st = str(out.src);
            break;
        case k_err:
            st = str(out.err);
            break;
        case k_topic:
            st = str(out.topic.emplace());
            break;
        case k_dir:
            st = str(out.dir);
            if (st && out.dir != "rx" && out.dir != "tx") return bad("'dir' must be \"rx\" or \"tx\"");
            break;
        case k_seq: {
            uint64_t n;
            if (value.get(n))
                return bad(tamed ? "'seq' must be a non-negative integer below 2^64"
                                 : "'seq' must be a non-negative integer");
            out.seq = n;
            break;
        }
        case k_qos: {
            uint64_t n;
            if (value.get(n) || n > 2) return bad("'qos' must be 0, 1 or 2");
            out.qos = static_cast<int>(n);
            break;
        }
        case k_retain: {
            bool b;
            if (value.get(b)) return bad("'retain' must be true or false");
            out.retain = b;
            break;
        }
        case k_props:
            if (!value.is_object()) return bad("'props' must be an object");
            out.props_raw.assign(raw_text());
            break;
        case k_payload:
            payload_name = known->name;
            out.kind = known->kind;
            if (known->kind == PayloadKind::json) {
                out.payload.assign(raw_text());
                break;
            }
            st = str(out.payload);
            if (st && known->kind == PayloadKind::hex) {
                auto bytes = decode_hex(out.payload);
                if (!bytes) return bad("'hex' is not valid hex (pairs of digits 0-9, a-f)");
                out.payload = std::move(*bytes);
            } else if (st && known->kind == PayloadKind::b64) {
                auto bytes = decode_base64(out.payload);
                if (!bytes) return bad("'b64' is not valid base64");
                out.payload = std::move(*bytes);
            }
            break;
        }
        if (!st) return st;
        ++index;
    }
    return {};
}

} // namespace m2m
