#include "sparkplug/sparkplug.hpp"
#include "records/record.hpp"
#include "sparkplug_b.pb-c.h"
#include "util/bytes.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <fmt/format.h>
#include <limits>
#include <simdjson.h>
#include <tuple>
#include <vector>

namespace m2m::sparkplug {

namespace {

using Payload = Org__Eclipse__Tahu__Protobuf__Payload;
using Metric = Org__Eclipse__Tahu__Protobuf__Payload__Metric;

// Sparkplug 3.0, 6.4.16: the datatypes a metric may have
constexpr std::array<std::string_view, 35> kTypes = {"Unknown",      "Int8",
                                                     "Int16",        "Int32",
                                                     "Int64",        "UInt8",
                                                     "UInt16",       "UInt32",
                                                     "UInt64",       "Float",
                                                     "Double",       "Boolean",
                                                     "String",       "DateTime",
                                                     "Text",         "UUID",
                                                     "DataSet",      "Bytes",
                                                     "File",         "Template",
                                                     "PropertySet",  "PropertySetList",
                                                     "Int8Array",    "Int16Array",
                                                     "Int32Array",   "Int64Array",
                                                     "UInt8Array",   "UInt16Array",
                                                     "UInt32Array",  "UInt64Array",
                                                     "FloatArray",   "DoubleArray",
                                                     "BooleanArray", "StringArray",
                                                     "DateTimeArray"};

enum Type : uint32_t {
    Int8 = 1,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float,
    Double,
    Boolean,
    String,
    DateTime,
    Text,
    UUID,
    DataSet,
    Bytes,
    File,
    Template
};

void b64_field(std::string& out, std::string_view key, const ProtobufCBinaryData& d) {
    fmt::format_to(std::back_inserter(out), ",\"{}\":", key);
    std::string b;
    append_base64(b, std::string_view(reinterpret_cast<const char*>(d.data), d.len));
    append_json_string(out, b);
}

std::string number(double v) {
    if (std::isnan(v)) return "\"NaN\"";
    if (std::isinf(v)) return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    if (v == 0 && std::signbit(v)) return "-0.0"; // "-0" would read back as the integer 0
    return fmt::format("{}", v);
}
std::string number(float v) {
    if (std::isnan(v)) return "\"NaN\"";
    if (std::isinf(v)) return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    if (v == 0 && std::signbit(v)) return "-0.0"; // "-0" would read back as the integer 0
    return fmt::format("{}", v);
}

using Case = Org__Eclipse__Tahu__Protobuf__Payload__Metric__ValueCase;

/// The field a datatype's value belongs in (Sparkplug 3.0, 6.4.16); NOT_SET for the others.
Case field_of(uint32_t type) {
    switch (type) {
    case Int8:
    case Int16:
    case Int32:
    case UInt8:
    case UInt16:
    case UInt32:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE;
    case Int64:
    case UInt64:
    case DateTime:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_LONG_VALUE;
    case Float:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
    case Double:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
    case Boolean:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
    case String:
    case Text:
    case UUID:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_STRING_VALUE;
    case Bytes:
    case File:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BYTES_VALUE;
    default:
        return ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE__NOT_SET;
    }
}

/// A value in a field its datatype does not say (or with no datatype) is shown under the field's
/// own name, as the wire has it, so that it encodes back to the same field.
constexpr std::pair<std::string_view, Case> kRawFields[] = {
    {"int_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE},
    {"long_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_LONG_VALUE},
    {"float_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_FLOAT_VALUE},
    {"double_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE},
    {"boolean_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE},
    {"string_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_STRING_VALUE},
    {"bytes_value", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BYTES_VALUE}};

/// Whether an int_value is one its datatype can hold (an Int8/Int16 also sign-extended to 32 bits).
bool fits(const Metric& m) {
    if (m.value_case != ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE) return true;
    uint32_t v = m.int_value;
    switch (m.datatype) {
    case Int8:
        return v <= 0xFF || v >= 0xFFFFFF80u;
    case Int16:
        return v <= 0xFFFF || v >= 0xFFFF8000u;
    case UInt8:
        return v <= 0xFF;
    case UInt16:
        return v <= 0xFFFF;
    default:
        return true;
    }
}

/// The metric's value as JSON, read as its datatype says (`raw`: as the field it is in).
void value_json(std::string& out, const Metric& m, bool raw) {
    uint32_t t = m.has_datatype && !raw ? m.datatype : 0;
    switch (m.value_case) {
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE: {
        uint32_t v = m.int_value;
        if (t == Int8)
            out += fmt::format("{}", static_cast<int8_t>(v & 0xFF));
        else if (t == Int16)
            out += fmt::format("{}", static_cast<int16_t>(v & 0xFFFF));
        else if (t == Int32)
            out += fmt::format("{}", static_cast<int32_t>(v));
        else
            out += fmt::format("{}", v);
        return;
    }
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_LONG_VALUE:
        if (t == Int64)
            out += fmt::format("{}", static_cast<int64_t>(m.long_value));
        else
            out += fmt::format("{}", m.long_value);
        return;
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_FLOAT_VALUE:
        out += number(m.float_value);
        return;
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE:
        out += number(m.double_value);
        return;
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE:
        out += m.boolean_value ? "true" : "false";
        return;
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_STRING_VALUE:
        append_json_string(out, m.string_value);
        return;
    case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BYTES_VALUE: {
        std::string b;
        append_base64(b,
                      std::string_view(reinterpret_cast<const char*>(m.bytes_value.data), m.bytes_value.len));
        append_json_string(out, b);
        return;
    }
    default:
        out += "null";
    }
}

} // namespace

std::string_view datatype_name(uint32_t type) {
    return type < kTypes.size() ? kTypes[type] : std::string_view();
}

bool is_payload_topic(std::string_view topic) {
    return topic.starts_with("spBv1.0/") && !topic.starts_with("spBv1.0/STATE/");
}

Expected<std::string> to_json(std::string_view payload) {
    Payload* p = org__eclipse__tahu__protobuf__payload__unpack(
        nullptr, payload.size(), reinterpret_cast<const uint8_t*>(payload.data()));
    if (!p)
        return fail(Exit::bad_data,
                    fmt::format("not a Sparkplug B payload ({} bytes that do not decode as its protobuf)",
                                payload.size()));
    std::string out = "{";
    auto sep = [&] {
        if (out.size() > 1) out += ',';
    };
    if (p->has_timestamp) sep(), out += fmt::format("\"timestamp\":{}", p->timestamp);
    if (p->has_seq) sep(), out += fmt::format("\"seq\":{}", p->seq);
    if (p->uuid) sep(), out += "\"uuid\":", append_json_string(out, p->uuid);
    sep();
    out += "\"metrics\":[";
    for (size_t i = 0; i < p->n_metrics; ++i) {
        const Metric& m = *p->metrics[i];
        if (i) out += ',';
        out += '{';
        size_t start = out.size();
        auto msep = [&] {
            if (out.size() > start) out += ',';
        };
        if (m.name) msep(), out += "\"name\":", append_json_string(out, m.name);
        if (m.has_alias) msep(), out += fmt::format("\"alias\":{}", m.alias);
        if (m.has_timestamp) msep(), out += fmt::format("\"timestamp\":{}", m.timestamp);
        if (m.has_datatype) {
            msep();
            auto name = datatype_name(m.datatype);
            if (name.empty())
                out += fmt::format("\"datatype\":{}", m.datatype);
            else
                out += fmt::format("\"datatype\":\"{}\"", name);
        }
        if (m.has_is_historical)
            msep(), out += fmt::format("\"is_historical\":{}", m.is_historical ? "true" : "false");
        if (m.has_is_transient)
            msep(), out += fmt::format("\"is_transient\":{}", m.is_transient ? "true" : "false");
        if (m.has_is_null) msep(), out += fmt::format("\"is_null\":{}", m.is_null ? "true" : "false");
        if (m.has_metadata) b64_field(out, "metadata_b64", m.metadata);
        if (m.has_properties) b64_field(out, "properties_b64", m.properties);
        switch (m.value_case) {
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE__NOT_SET:
            break;
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DATASET_VALUE:
            b64_field(out, "dataset_b64", m.dataset_value);
            break;
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_TEMPLATE_VALUE:
            b64_field(out, "template_b64", m.template_value);
            break;
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_EXTENSION_VALUE:
            b64_field(out, "extension_b64", m.extension_value);
            break;
        default: {
            msep();
            bool as_typed = m.has_datatype && field_of(m.datatype) == m.value_case && fits(m);
            std::string_view key = "value";
            if (!as_typed)
                for (auto& [name, c] : kRawFields)
                    if (c == m.value_case) key = name;
            out += fmt::format("\"{}\":", key);
            value_json(out, m, !as_typed);
        }
        }
        if (out[start] == ',') out.erase(start, 1);
        out += '}';
    }
    out += ']';
    if (p->has_body) b64_field(out, "body_b64", p->body);
    out += '}';
    org__eclipse__tahu__protobuf__payload__free_unpacked(p, nullptr);
    return out;
}

namespace {

/// Builds a Payload from JSON; the strings and bytes live in `keep` until packed.
class Builder {
  public:
    Status metric(simdjson::dom::object o, size_t i, Metric& m) {
        auto where = [&](std::string_view key) { return fmt::format("metrics[{}].{}", i, key); };
        simdjson::dom::element v;
        if (!o["name"].get(v)) {
            std::string_view s;
            if (v.get(s)) return bad(where("name"), "expected a string");
            m.name = keep(s);
        }
        if (!o["alias"].get(v)) {
            if (v.get(m.alias)) return bad(where("alias"), "expected a whole number from 0");
            m.has_alias = true;
        }
        if (!o["timestamp"].get(v)) {
            if (v.get(m.timestamp))
                return bad(where("timestamp"), "expected milliseconds since 1970, a whole number");
            m.has_timestamp = true;
        }
        for (auto [key, field, has] : {std::tuple{"is_historical", &m.is_historical, &m.has_is_historical},
                                       std::tuple{"is_transient", &m.is_transient, &m.has_is_transient},
                                       std::tuple{"is_null", &m.is_null, &m.has_is_null}}) {
            if (!o[key].get(v)) {
                bool b = false;
                if (v.get(b)) return bad(where(key), "expected true or false");
                *field = b;
                *has = true;
            }
        }
        for (auto [key, field, has] : {std::tuple{"metadata_b64", &m.metadata, &m.has_metadata},
                                       std::tuple{"properties_b64", &m.properties, &m.has_properties}}) {
            if (!o[key].get(v)) {
                auto st = bytes_of(v, where(key), *field);
                if (!st) return st;
                *has = true;
            }
        }
        simdjson::dom::element value;
        bool has_value = !o["value"].get(value);
        uint32_t type = 0;
        bool type_given = !o["datatype"].get(v); // "Unknown" (0) too: kept as given
        if (type_given) {
            std::string_view name;
            uint64_t n = 0;
            if (!v.get(name)) {
                auto it = std::find(kTypes.begin(), kTypes.end(), name);
                if (it == kTypes.end())
                    return bad(where("datatype"), fmt::format("'{}' is no Sparkplug datatype (Int32, Double, "
                                                              "Boolean, String, ...)",
                                                              name));
                type = static_cast<uint32_t>(it - kTypes.begin());
            } else if (!v.get(n) && n <= 0xFFFFFFFF) {
                type = static_cast<uint32_t>(n);
            } else {
                return bad(where("datatype"), "expected a datatype name or number");
            }
        } else if (has_value) { // inferred from the JSON value
            switch (value.type()) {
            case simdjson::dom::element_type::BOOL:
                type = Boolean;
                break;
            case simdjson::dom::element_type::STRING:
                type = String;
                break;
            case simdjson::dom::element_type::DOUBLE:
                type = Double;
                break;
            case simdjson::dom::element_type::UINT64:
                type = UInt64;
                break;
            default:
                type = Int64;
            }
        }
        if (type || type_given) m.has_datatype = true, m.datatype = type;
        for (auto& [name, c] : kRawFields) { // a value given in the field the wire carries it in
            if (o[name].get(v)) continue;
            if (has_value) return bad(where(name), "a metric has one value: 'value' or this");
            return raw_value(m, c, v, where(name));
        }
        for (auto [key, field] :
             {std::pair{"dataset_b64", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DATASET_VALUE},
              std::pair{"template_b64", ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_TEMPLATE_VALUE},
              std::pair{"extension_b64",
                        ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_EXTENSION_VALUE}}) {
            if (!o[key].get(v)) {
                if (has_value) return bad(where(key), "a metric has one value: 'value' or this");
                auto st = bytes_of(v, where(key), m.bytes_value); // one union: the same storage
                if (!st) return st;
                m.value_case = field;
                return {};
            }
        }
        if (!has_value || value.is_null()) return {};
        return set_value(m, type, value, where("value"));
    }

    std::deque<std::string> kept;

    char* keep(std::string_view s) {
        kept.emplace_back(s);
        return kept.back().data();
    }

    Status bytes_of(simdjson::dom::element v, const std::string& where, ProtobufCBinaryData& out) {
        std::string_view s;
        if (v.get(s)) return bad(where, "expected a base64 string");
        auto d = decode_base64(s);
        if (!d) return bad(where, "not valid base64");
        kept.push_back(std::move(*d));
        out.data = reinterpret_cast<uint8_t*>(kept.back().data());
        out.len = kept.back().size();
        return {};
    }

    static std::unexpected<Error> bad(const std::string& where, const std::string& why) {
        return fail(Exit::bad_data, fmt::format("sparkplug: {}: {}", where, why));
    }

  private:
    Status real_of(simdjson::dom::element v, const std::string& where, double& out) {
        std::string_view s;
        if (!v.get(s)) {
            if (s == "NaN")
                out = std::numeric_limits<double>::quiet_NaN();
            else if (s == "Infinity")
                out = std::numeric_limits<double>::infinity();
            else if (s == "-Infinity")
                out = -std::numeric_limits<double>::infinity();
            else
                return bad(where, "expected a number");
            return {};
        }
        if (v.get(out)) return bad(where, "expected a number");
        return {};
    }

    Status raw_value(Metric& m, Case c, simdjson::dom::element v, const std::string& where) {
        m.value_case = c;
        uint64_t u = 0;
        double d = 0;
        std::string_view s;
        switch (c) {
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE:
            if (v.get(u) || u > 0xFFFFFFFF) return bad(where, "expected a whole number from 0 to 4294967295");
            m.int_value = static_cast<uint32_t>(u);
            return {};
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_LONG_VALUE:
            if (v.get(u)) return bad(where, "expected a whole number from 0");
            m.long_value = u;
            return {};
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_FLOAT_VALUE:
            if (auto st = real_of(v, where, d); !st) return st;
            m.float_value = static_cast<float>(d);
            return {};
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE:
            return real_of(v, where, m.double_value);
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE: {
            bool b = false;
            if (v.get(b)) return bad(where, "expected true or false");
            m.boolean_value = b;
            return {};
        }
        case ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_STRING_VALUE:
            if (v.get(s)) return bad(where, "expected a string");
            m.string_value = keep(s);
            return {};
        default:
            return bytes_of(v, where, m.bytes_value);
        }
    }

    Status set_value(Metric& m, uint32_t type, simdjson::dom::element v, const std::string& where) {
        auto integer = [&](int64_t lo, int64_t hi, auto store) -> Status {
            int64_t x = 0;
            uint64_t u = 0;
            if (!v.get(x)) {
                if (x < lo || x > hi)
                    return bad(where, fmt::format("{} does not fit {}", x, datatype_name(type)));
                store(static_cast<uint64_t>(x));
                return {};
            }
            if (!v.get(u) && hi == std::numeric_limits<int64_t>::max() && lo == 0) { // UInt64 past INT64_MAX
                store(u);
                return {};
            }
            return bad(where, fmt::format("expected a whole number for {}", datatype_name(type)));
        };
        auto as_int = [&](uint64_t x, uint64_t mask) {
            m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_INT_VALUE;
            m.int_value = static_cast<uint32_t>(x & mask); // two's complement at the type's width
        };
        auto as_long = [&](uint64_t x) {
            m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_LONG_VALUE;
            m.long_value = x;
        };
        auto real = [&](double& out) { return real_of(v, where, out); };
        switch (type) {
        case Int8:
            return integer(-128, 127, [&](uint64_t x) { as_int(x, 0xFF); });
        case Int16:
            return integer(-32768, 32767, [&](uint64_t x) { as_int(x, 0xFFFF); });
        case Int32:
            return integer(INT32_MIN, INT32_MAX, [&](uint64_t x) { as_int(x, 0xFFFFFFFF); });
        case UInt8:
            return integer(0, 255, [&](uint64_t x) { as_int(x, 0xFF); });
        case UInt16:
            return integer(0, 65535, [&](uint64_t x) { as_int(x, 0xFFFF); });
        case UInt32:
            return integer(0, UINT32_MAX, [&](uint64_t x) { as_int(x, 0xFFFFFFFF); });
        case Int64:
            return integer(INT64_MIN, INT64_MAX, as_long);
        case UInt64:
        case DateTime:
            return integer(0, INT64_MAX, as_long);
        case Float: {
            double d = 0;
            auto st = real(d);
            if (!st) return st;
            m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
            m.float_value = static_cast<float>(d);
            return {};
        }
        case Double: {
            auto st = real(m.double_value);
            if (st) m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
            return st;
        }
        case Boolean: {
            bool b = false;
            if (v.get(b)) return bad(where, "expected true or false for Boolean");
            m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
            m.boolean_value = b;
            return {};
        }
        case String:
        case Text:
        case UUID: {
            std::string_view s;
            if (v.get(s)) return bad(where, fmt::format("expected a string for {}", datatype_name(type)));
            m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_STRING_VALUE;
            m.string_value = keep(s);
            return {};
        }
        case Bytes:
        case File: {
            auto st = bytes_of(v, where, m.bytes_value);
            if (st) m.value_case = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__VALUE_BYTES_VALUE;
            return st;
        }
        default:
            return bad(where, fmt::format("m2mkit writes no 'value' of datatype {} (give its bytes as "
                                          "dataset_b64, template_b64 or extension_b64)",
                                          datatype_name(type).empty() ? std::to_string(type)
                                                                      : std::string(datatype_name(type))));
        }
    }
};

} // namespace

Expected<std::string> from_json(std::string_view json, uint64_t now_ms) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc))
        return fail(Exit::bad_data, "sparkplug: the payload is not valid JSON");
    simdjson::dom::object o;
    if (doc.get(o)) return fail(Exit::bad_data, "sparkplug: the payload is not a JSON object");
    Payload p = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__INIT;
    Builder b;
    simdjson::dom::element v;
    p.has_timestamp = now_ms != 0; // 0: none added (what was decoded encodes back as it was)
    p.timestamp = now_ms;
    if (!o["timestamp"].get(v)) p.has_timestamp = true;
    if (p.has_timestamp && !o["timestamp"].get(v) && v.get(p.timestamp))
        return Builder::bad("timestamp", "expected milliseconds since 1970, a whole number");
    if (!o["seq"].get(v)) {
        // written as given: Sparkplug counts 0-255, but a payload read with another value goes back as read
        if (v.get(p.seq)) return Builder::bad("seq", "expected a whole number (Sparkplug counts 0 to 255)");
        p.has_seq = true;
    }
    if (!o["uuid"].get(v)) {
        std::string_view s;
        if (v.get(s)) return Builder::bad("uuid", "expected a string");
        p.uuid = b.keep(s);
    }
    if (!o["body_b64"].get(v)) {
        auto st = b.bytes_of(v, "body_b64", p.body);
        if (!st) return std::unexpected(st.error());
        p.has_body = true;
    }
    std::vector<Metric> metrics;
    std::vector<Metric*> ptrs;
    if (!o["metrics"].get(v)) {
        simdjson::dom::array a;
        if (v.get(a)) return Builder::bad("metrics", "expected an array");
        metrics.resize(a.size());
        size_t i = 0;
        for (auto e : a) {
            simdjson::dom::object mo;
            if (e.get(mo)) return Builder::bad(fmt::format("metrics[{}]", i), "expected an object");
            metrics[i] = ORG__ECLIPSE__TAHU__PROTOBUF__PAYLOAD__METRIC__INIT;
            auto st = b.metric(mo, i, metrics[i]);
            if (!st) return std::unexpected(st.error());
            ++i;
        }
        for (auto& m : metrics)
            ptrs.push_back(&m);
        p.n_metrics = ptrs.size();
        p.metrics = ptrs.data();
    }
    std::string out(org__eclipse__tahu__protobuf__payload__get_packed_size(&p), '\0');
    org__eclipse__tahu__protobuf__payload__pack(&p, reinterpret_cast<uint8_t*>(out.data()));
    return out;
}

} // namespace m2m::sparkplug
