#include "records/record.hpp"
#include "util/bytes.hpp"
#include "util/scan.hpp"
#include <array>
#include <charconv>
#include <simdjson.h>

namespace m2m {

std::string_view payload_key(PayloadKind kind) {
    switch (kind) {
    case PayloadKind::text:
        return "text";
    case PayloadKind::json:
        return "json";
    case PayloadKind::hex:
        return "hex";
    case PayloadKind::b64:
        return "b64";
    case PayloadKind::none:
        break;
    }
    return "";
}

std::string Record::payload_bytes() const {
    if (kind != PayloadKind::json) return payload;
    std::string out(payload.size(), '\0');
    size_t len = 0;
    if (simdjson::minify(payload.data(), payload.size(), out.data(), len)) return payload;
    out.resize(len);
    return out;
}

std::string_view Record::payload_view(std::string& scratch) const {
    if (kind != PayloadKind::json) return payload;
    scratch = payload_bytes();
    return scratch;
}

void Record::clear() {
    ts.clear();
    src.clear();
    dir.clear();
    seq.reset();
    topic.reset();
    qos.reset();
    retain.reset();
    props_raw.clear();
    kind = PayloadKind::none;
    payload.clear();
    err.clear();
    extra.clear();
}

/// Valid JSON with no whitespace outside strings: what a json payload re-emits byte for byte.
static bool is_compact_json(std::string_view bytes) {
    bool in_string = false;
    for (size_t i = 0; i < bytes.size(); ++i) {
        char c = bytes[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            return false;
        }
    }
    if (bytes.empty()) return false;
    static thread_local simdjson::dom::parser parser;
    simdjson::dom::element el;
    return !parser.parse(bytes.data(), bytes.size()).get(el);
}

void set_payload(Record& r, std::string bytes, PayloadStyle style, PayloadKind binary) {
    r.payload = std::move(bytes);
    classify_payload(r, style, binary);
}

void classify_payload(Record& r, PayloadStyle style, PayloadKind binary) {
    const std::string& bytes = r.payload;
    PayloadKind kind = binary;
    switch (style) {
    case PayloadStyle::auto_:
    case PayloadStyle::text:
        kind = (style == PayloadStyle::text ? is_valid_utf8(bytes) : is_printable_text(bytes))
                   ? PayloadKind::text
                   : binary;
        break;
    case PayloadStyle::json:
        kind = is_compact_json(bytes) ? PayloadKind::json : binary;
        break;
    case PayloadStyle::auto_message:
        kind = is_compact_json(bytes) ? PayloadKind::json : is_valid_utf8(bytes) ? PayloadKind::text : binary;
        break;
    case PayloadStyle::hex:
        kind = PayloadKind::hex;
        break;
    case PayloadStyle::b64:
        kind = PayloadKind::b64;
        break;
    }
    r.kind = kind;
}

namespace {
constexpr std::array<bool, 256> make_escape_table() {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c)
        t[c] = true;
    t['"'] = t['\\'] = true;
    return t;
}
constexpr auto kNeedsEscape = make_escape_table();
} // namespace

/// `s` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD (as a
/// decoder that replaces errors does), so the JSON line stays valid for the next tool.
std::string replace_invalid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    auto cont = [&](size_t i) { return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; };
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        bool ok = n > 0;
        for (size_t k = 1; ok && k < n; ++k)
            ok = cont(i + k);
        if (ok && n >= 3) { // no overlong forms, surrogates or code points past U+10FFFF
            unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F) && !(c == 0xF0 && c1 < 0x90) &&
                 !(c == 0xF4 && c1 > 0x8F);
        }
        if (ok) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

void append_json_string(std::string& out, std::string_view s) {
    if (!is_valid_utf8(s)) {
        std::string valid = replace_invalid_utf8(s);
        append_json_string(out, valid);
        return;
    }
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    size_t run = 0;
    auto word = [](uint64_t v) {
        return scan::has_less(v, 0x20) | scan::has_byte(v, '"') | scan::has_byte(v, '\\');
    };
    auto escape = [](unsigned char c) { return kNeedsEscape[c]; };
    for (size_t i = scan::find_if(s, 0, word, escape); i < s.size();
         i = scan::find_if(s, i + 1, word, escape)) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            out += {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

static void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

namespace {

// "ts", "src" and "dir", those the record has, after the opening brace
void jsonl_head(std::string& out, const Record& r, bool& first) {
    auto key = [&](std::string_view k) {
        if (!first) out += ',';
        first = false;
        out += '"';
        out += k;
        out += "\":";
    };
    if (!r.ts.empty()) key("ts"), append_json_string(out, r.ts);
    if (!r.src.empty()) key("src"), append_json_string(out, r.src);
    if (!r.dir.empty()) key("dir"), append_json_string(out, r.dir);
}

void jsonl(std::string& out, const Record& r, JsonlCache* cache) {
    bool first = true;
    if (cache) { // the leading fields as the cache has them while they stay the same: one append
        if (r.ts != cache->ts || r.src != cache->src || r.dir != cache->dir) {
            cache->ts = r.ts, cache->src = r.src, cache->dir = r.dir;
            cache->head = "{";
            jsonl_head(cache->head, r, first);
        }
        out += cache->head;
        first = cache->head.size() == 1;
    } else {
        out += '{';
        jsonl_head(out, r, first);
    }
    // `k` is the key as written after another field: ,"seq": -- one append per key
    auto key = [&](std::string_view k) {
        out += first ? k.substr(1) : k;
        first = false;
    };
    if (r.seq) key(R"(,"seq":)"), append_uint(out, *r.seq);
    if (r.topic) key(R"(,"topic":)"), append_json_string(out, *r.topic);
    if (r.qos) key(R"(,"qos":)"), append_uint(out, static_cast<uint64_t>(*r.qos));
    if (r.retain) key(R"(,"retain":)"), out += *r.retain ? "true" : "false";
    if (!r.props_raw.empty()) key(R"(,"props":)"), out += r.props_raw;
    switch (r.kind) {
    case PayloadKind::text:
        key(R"(,"text":)"), append_json_string(out, r.payload);
        break;
    case PayloadKind::json:
        key(R"(,"json":)"), out += r.payload;
        break;
    case PayloadKind::hex:
        key(R"(,"hex":")"), append_hex(out, r.payload), out += '"';
        break;
    case PayloadKind::b64:
        key(R"(,"b64":")"), append_base64(out, r.payload), out += '"';
        break;
    case PayloadKind::none:
        break;
    }
    if (!r.err.empty()) key(R"(,"err":)"), append_json_string(out, r.err);
    for (const auto& f : r.extra) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, f.key);
        out += ':';
        out += f.raw_value;
    }
    out += "}\n";
}

} // namespace

void append_jsonl(std::string& out, const Record& r) {
    jsonl(out, r, nullptr);
}

void append_jsonl(std::string& out, const Record& r, JsonlCache& cache) {
    jsonl(out, r, &cache);
}

} // namespace m2m
