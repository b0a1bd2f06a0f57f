#include "mqtt/props.hpp"
#include "records/record.hpp"
#include "util/bytes.hpp"
#include <fmt/format.h>
#include <simdjson.h>

namespace m2m {

bool PubProps::empty() const {
    return !content_type && !response_topic && !correlation_data && !message_expiry && !payload_format &&
           !topic_alias && user.empty();
}

Status PubProps::merge_json(std::string_view raw) {
    static thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(raw.data(), raw.size()).get(root) || !root.is_object())
        return fail(Exit::bad_data, "props: not a JSON object");
    auto str = [&](std::string_view key, simdjson::dom::element v) -> Expected<std::string> {
        std::string_view s;
        if (v.get_string().get(s)) return fail(Exit::bad_data, fmt::format("props.{}: expected a string", key));
        return std::string(s);
    };
    auto num = [&](std::string_view key, simdjson::dom::element v, uint64_t max) -> Expected<uint64_t> {
        uint64_t n;
        if (v.get_uint64().get(n) || n > max)
            return fail(Exit::bad_data, fmt::format("props.{}: expected an integer 0..{}", key, max));
        return n;
    };
    for (auto [key, v] : simdjson::dom::object(root)) {
        if (key == "content_type" || key == "response_topic" || key == "correlation_data") {
            auto s = str(key, v);
            if (!s) return std::unexpected(s.error());
            (key == "content_type" ? content_type : key == "response_topic" ? response_topic : correlation_data) = *s;
        } else if (key == "correlation_data_b64") {
            auto s = str(key, v);
            if (!s) return std::unexpected(s.error());
            auto bytes = decode_base64(*s);
            if (!bytes) return fail(Exit::bad_data, "props.correlation_data_b64: not base64");
            correlation_data = *bytes;
        } else if (key == "message_expiry") {
            auto n = num(key, v, 0xFFFFFFFF);
            if (!n) return std::unexpected(n.error());
            message_expiry = static_cast<uint32_t>(*n);
        } else if (key == "payload_format") {
            auto n = num(key, v, 1);
            if (!n) return std::unexpected(n.error());
            payload_format = static_cast<int>(*n);
        } else if (key == "topic_alias") {
            auto n = num(key, v, 65535);
            if (!n) return std::unexpected(n.error());
            topic_alias = static_cast<int>(*n);
        } else if (key == "subscription_id") {
            continue; // set by the broker on delivery; not something a publisher sends
        } else if (key == "user") {
            simdjson::dom::array arr;
            simdjson::dom::object obj;
            if (!v.get_array().get(arr)) {
                for (auto pair : arr) {
                    simdjson::dom::array kv;
                    std::string_view k, val;
                    if (pair.get_array().get(kv) || kv.size() != 2 || kv.at(0).get_string().get(k) ||
                        kv.at(1).get_string().get(val))
                        return fail(Exit::bad_data, "props.user: expected [[\"key\",\"value\"], ...]");
                    user.emplace_back(k, val);
                }
            } else if (!v.get_object().get(obj)) {
                for (auto [k, val] : obj) {
                    std::string_view s;
                    if (val.get_string().get(s))
                        return fail(Exit::bad_data, fmt::format("props.user.{}: expected a string", k));
                    user.emplace_back(k, s);
                }
            } else {
                return fail(Exit::bad_data, "props.user: expected [[\"key\",\"value\"], ...] or {\"key\":\"value\"}");
            }
        } else {
            return fail(Exit::bad_data,
                        fmt::format("props: unknown property '{}' (content_type, response_topic, correlation_data, "
                                    "correlation_data_b64, message_expiry, payload_format, topic_alias, user)",
                                    key));
        }
    }
    return {};
}

void PubProps::build(MQTTProperties& out) const {
    auto add_str = [&](MQTTPropertyCodes id, const std::string& s) {
        MQTTProperty p{};
        p.identifier = id;
        p.value.data.data = const_cast<char*>(s.data());
        p.value.data.len = static_cast<int>(s.size());
        MQTTProperties_add(&out, &p);
    };
    auto add_int = [&](MQTTPropertyCodes id, uint32_t n) {
        MQTTProperty p{};
        p.identifier = id;
        switch (MQTTProperty_getType(id)) {
        case MQTTPROPERTY_TYPE_BYTE: p.value.byte = static_cast<unsigned char>(n); break;
        case MQTTPROPERTY_TYPE_TWO_BYTE_INTEGER: p.value.integer2 = static_cast<unsigned short>(n); break;
        default: p.value.integer4 = n; break;
        }
        MQTTProperties_add(&out, &p);
    };
    if (payload_format) add_int(MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR, static_cast<uint32_t>(*payload_format));
    if (message_expiry) add_int(MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL, *message_expiry);
    if (content_type) add_str(MQTTPROPERTY_CODE_CONTENT_TYPE, *content_type);
    if (response_topic) add_str(MQTTPROPERTY_CODE_RESPONSE_TOPIC, *response_topic);
    if (correlation_data) add_str(MQTTPROPERTY_CODE_CORRELATION_DATA, *correlation_data);
    if (topic_alias) add_int(MQTTPROPERTY_CODE_TOPIC_ALIAS, static_cast<uint32_t>(*topic_alias));
    for (auto& [k, v] : user) {
        MQTTProperty p{};
        p.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
        p.value.data.data = const_cast<char*>(k.data());
        p.value.data.len = static_cast<int>(k.size());
        p.value.value.data = const_cast<char*>(v.data());
        p.value.value.len = static_cast<int>(v.size());
        MQTTProperties_add(&out, &p);
    }
}

std::string props_to_json(const MQTTProperties& props) {
    if (props.count == 0) return {};
    std::string out = "{", user, subs;
    auto key = [&](std::string_view k) {
        if (out.size() > 1) out += ',';
        append_json_string(out, k);
        out += ':';
    };
    for (int i = 0; i < props.count; ++i) {
        const MQTTProperty& p = props.array[i];
        std::string_view data(p.value.data.data ? p.value.data.data : "", static_cast<size_t>(p.value.data.len));
        switch (p.identifier) {
        case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR: key("payload_format"), out += std::to_string(p.value.byte); break;
        case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL: key("message_expiry"), out += std::to_string(p.value.integer4); break;
        case MQTTPROPERTY_CODE_CONTENT_TYPE: key("content_type"), append_json_string(out, data); break;
        case MQTTPROPERTY_CODE_RESPONSE_TOPIC: key("response_topic"), append_json_string(out, data); break;
        case MQTTPROPERTY_CODE_CORRELATION_DATA:
            if (is_valid_utf8(data))
                key("correlation_data"), append_json_string(out, data);
            else
                {
                key("correlation_data_b64");
                std::string b64;
                append_base64(b64, data);
                append_json_string(out, b64);
            }
            break;
        case MQTTPROPERTY_CODE_TOPIC_ALIAS: key("topic_alias"), out += std::to_string(p.value.integer2); break;
        case MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER:
            subs += subs.empty() ? "" : ",";
            subs += std::to_string(p.value.integer4);
            break;
        case MQTTPROPERTY_CODE_USER_PROPERTY: {
            std::string_view v(p.value.value.data ? p.value.value.data : "", static_cast<size_t>(p.value.value.len));
            user += user.empty() ? "[" : ",[";
            append_json_string(user, data);
            user += ',';
            append_json_string(user, v);
            user += ']';
            break;
        }
        default: break;
        }
    }
    if (!subs.empty()) key("subscription_id"), out += "[" + subs + "]";
    if (!user.empty()) key("user"), out += "[" + user + "]";
    out += '}';
    return out == "{}" ? std::string() : out;
}

} // namespace m2m
