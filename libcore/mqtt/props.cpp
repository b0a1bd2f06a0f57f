#include "mqtt/props.hpp"
#include "mqttwire/wire.hpp"
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
        if (v.get_string().get(s))
            return fail(Exit::bad_data, fmt::format("props.{}: expected a string", key));
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
            (key == "content_type"     ? content_type
             : key == "response_topic" ? response_topic
                                       : correlation_data) = *s;
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
                return fail(Exit::bad_data,
                            "props.user: expected [[\"key\",\"value\"], ...] or {\"key\":\"value\"}");
            }
        } else {
            return fail(
                Exit::bad_data,
                fmt::format("props: unknown property '{}' (content_type, response_topic, correlation_data, "
                            "correlation_data_b64, message_expiry, payload_format, topic_alias, user)",
                            key));
        }
    }
    return {};
}

std::string PubProps::encode() const {
    wire::PropWriter w;
    if (payload_format) w.byte(0x01, static_cast<uint8_t>(*payload_format));
    if (message_expiry) w.u32(0x02, *message_expiry);
    if (content_type) w.str(0x03, *content_type);
    if (response_topic) w.str(0x08, *response_topic);
    if (correlation_data) w.str(0x09, *correlation_data);
    if (topic_alias) w.u16(0x23, static_cast<uint16_t>(*topic_alias));
    for (auto& [k, v] : user)
        w.pair(0x26, k, v);
    return std::move(w.bytes);
}

std::string props_to_json(std::string_view block) {
    if (block.empty()) return {};
    std::string out = "{", user, subs;
    auto key = [&](std::string_view k) {
        if (out.size() > 1) out += ',';
        append_json_string(out, k);
        out += ':';
    };
    auto number = wire::property_number;
    wire::each_property(block, [&](int id, std::string_view v) {
        switch (id) {
        case 0x01:
            key("payload_format"), out += std::to_string(number(v));
            break;
        case 0x02:
            key("message_expiry"), out += std::to_string(number(v));
            break;
        case 0x03:
            key("content_type"), append_json_string(out, v);
            break;
        case 0x08:
            key("response_topic"), append_json_string(out, v);
            break;
        case 0x09:
            if (is_valid_utf8(v)) {
                key("correlation_data"), append_json_string(out, v);
            } else {
                key("correlation_data_b64");
                std::string b64;
                append_base64(b64, v);
                append_json_string(out, b64);
            }
            break;
        case 0x23:
            key("topic_alias"), out += std::to_string(number(v));
            break;
        case 0x0B:
            subs += subs.empty() ? "" : ",";
            subs += std::to_string(wire::property_varint(v));
            break;
        case 0x26: {
            auto [k, val] = wire::user_property(v);
            user += user.empty() ? "[" : ",[";
            append_json_string(user, k);
            user += ',';
            append_json_string(user, val);
            user += ']';
            break;
        }
        default:
            break;
        }
    });
    if (!subs.empty()) key("subscription_id"), out += "[" + subs + "]";
    if (!user.empty()) key("user"), out += "[" + user + "]";
    out += '}';
    return out == "{}" ? std::string() : out;
}

} // namespace m2m
