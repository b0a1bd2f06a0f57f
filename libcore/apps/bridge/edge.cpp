#include "apps/bridge/edge.hpp"
#include "records/record.hpp"
#include "sparkplug/sparkplug.hpp"
#include <fmt/format.h>
#include <simdjson.h>

namespace m2m {

namespace {

constexpr std::string_view kNamespace = "spBv1.0";
constexpr std::string_view kRebirth = "Node Control/Rebirth";

Status check_id(std::string_view id, const char* what) {
    if (id.empty())
        return fail(Exit::usage, fmt::format("--sparkplug: the {} id is empty (GROUP/NODE)", what));
    if (id.find_first_of("/+#") != std::string_view::npos)
        return fail(Exit::usage, fmt::format("--sparkplug: the {} id '{}' has a '/', '+' or '#'", what, id));
    return {};
}

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

} // namespace

Expected<SparkplugEdge> SparkplugEdge::parse(std::string_view group_node) {
    auto slash = group_node.find('/');
    if (slash == std::string_view::npos)
        return fail(
            Exit::usage,
            fmt::format("--sparkplug '{}': give GROUP/NODE (the group and edge node ids)", group_node));
    SparkplugEdge e;
    e.group_ = group_node.substr(0, slash);
    e.node_ = group_node.substr(slash + 1);
    if (auto st = check_id(e.group_, "group"); !st) return std::unexpected(st.error());
    if (auto st = check_id(e.node_, "edge node"); !st) return std::unexpected(st.error());
    return e;
}

std::string SparkplugEdge::topic(std::string_view type, std::string_view device) const {
    std::string t = fmt::format("{}/{}/{}/{}", kNamespace, group_, type, node_);
    if (!device.empty()) t += fmt::format("/{}", device);
    return t;
}

std::vector<std::string> SparkplugEdge::command_filters() const {
    return {topic("NCMD"), topic("DCMD", "+")};
}

std::string_view SparkplugEdge::datatype(const MapValue& v) {
    using modbus::Type;
    const auto& s = v.spec;
    if (s.type == Type::bits) return "Boolean";
    if (s.type == Type::string) return "String";
    if (s.scale != 1 || s.offset != 0 || s.decimals >= 0) return "Double"; // raw * scale + offset
    switch (s.type) {
    case Type::int16:
        return "Int16";
    case Type::uint16:
        return "UInt16";
    case Type::int32:
        return "Int32";
    case Type::uint32:
        return "UInt32";
    case Type::int64:
        return "Int64";
    case Type::uint64:
        return "UInt64";
    case Type::float32:
        return "Float";
    default:
        return "Double";
    }
}

std::string SparkplugEdge::metric(const MapValue& v, uint64_t now_ms) const {
    std::string m = fmt::format(R"({{"name":{},"timestamp":{},"datatype":"{}",)", json_string(v.name), now_ms,
                                datatype(v));
    if (v.last.empty() || v.last == "null") // not read yet, or its read failed, or not a finite number
        m += R"("is_null":true})";
    else if (v.spec.type == modbus::Type::bits)
        m += fmt::format(R"("value":{}}})", v.last == "0" ? "false" : "true");
    else
        m += fmt::format(R"("value":{}}})", v.last);
    return m;
}

Expected<SpbMessage> SparkplugEdge::message(std::string_view type, std::string_view device,
                                            std::string metrics, uint64_t now_ms) {
    std::string json = fmt::format(R"({{"timestamp":{},"seq":{},"metrics":[{}]}})", now_ms, seq_, metrics);
    seq_ = (seq_ + 1) % 256;
    auto payload = sparkplug::from_json(json, now_ms);
    if (!payload) return std::unexpected(payload.error());
    return SpbMessage{topic(type, device), std::move(*payload)};
}

std::string SparkplugEdge::next_death(uint64_t now_ms) {
    bd_seq_ = (bd_seq_ + 1) % 256;
    return death(now_ms);
}

std::string SparkplugEdge::death(uint64_t now_ms) const {
    auto json =
        fmt::format(R"({{"timestamp":{},"metrics":[{{"name":"bdSeq","datatype":"Int64","value":{}}}]}})",
                    now_ms, std::max<int64_t>(bd_seq_, 0));
    return sparkplug::from_json(json, now_ms).value_or(std::string()); // a number: always encodes
}

Expected<SpbMessage> SparkplugEdge::node_birth(uint64_t now_ms) {
    seq_ = 0;
    return message("NBIRTH", {},
                   fmt::format(R"({{"name":"bdSeq","timestamp":{0},"datatype":"Int64","value":{1}}},)"
                               R"({{"name":"{2}","timestamp":{0},"datatype":"Boolean","value":false}})",
                               now_ms, std::max<int64_t>(bd_seq_, 0), kRebirth),
                   now_ms);
}

Expected<SpbMessage> SparkplugEdge::device_birth(const MapDevice& d, uint64_t now_ms) {
    std::string metrics;
    for (auto& v : d.values)
        metrics += (metrics.empty() ? "" : ",") + metric(v, now_ms);
    return message("DBIRTH", d.name, std::move(metrics), now_ms);
}

Expected<SpbMessage> SparkplugEdge::device_data(const MapDevice& d, const std::vector<size_t>& changed,
                                                uint64_t now_ms) {
    std::string metrics;
    for (size_t i : changed)
        metrics += (metrics.empty() ? "" : ",") + metric(d.values[i], now_ms);
    return message("DDATA", d.name, std::move(metrics), now_ms);
}

Expected<SpbMessage> SparkplugEdge::device_death(const MapDevice& d, uint64_t now_ms) {
    return message("DDEATH", d.name, {}, now_ms);
}

SparkplugEdge::Command SparkplugEdge::command(std::string_view topic, std::string_view payload) const {
    Command c;
    bool node_cmd = topic == this->topic("NCMD");
    std::string dcmd = this->topic("DCMD") + "/";
    if (!node_cmd) {
        if (!topic.starts_with(dcmd) || topic.size() == dcmd.size()) {
            c.errors.push_back(
                fmt::format("'{}' is not a command for edge node {}/{}", topic, group_, node_));
            return c;
        }
        c.device = topic.substr(dcmd.size());
    }
    auto json = sparkplug::to_json(payload);
    if (!json) {
        c.errors.push_back(json.error().message);
        return c;
    }
    simdjson::dom::parser p;
    simdjson::dom::array metrics;
    if (p.parse(*json)["metrics"].get_array().get(metrics)) {
        c.errors.push_back("the command has no metrics");
        return c;
    }
    std::string set;
    for (auto m : metrics) {
        std::string_view name;
        if (m["name"].get_string().get(name)) {
            uint64_t alias = 0;
            if (m["alias"].get_uint64().get(alias)) alias = 0;
            c.errors.push_back(
                fmt::format("a metric with no name (alias {}): this edge node names its metrics, it gives no "
                            "aliases",
                            alias));
            continue;
        }
        auto value = m["value"];
        if (value.error()) {
            c.errors.push_back(fmt::format("metric '{}' has no value", name));
            continue;
        }
        if (node_cmd) {
            bool yes = false;
            if (name == kRebirth && !value.get_bool().get(yes)) {
                c.rebirth = c.rebirth || yes;
                continue;
            }
            c.errors.push_back(fmt::format(
                "NCMD metric '{}' is not one this edge node has (it takes '{}' = true)", name, kRebirth));
            continue;
        }
        set += fmt::format("{}{}:{}", set.empty() ? "" : ",", json_string(name),
                           simdjson::minify(value.value_unsafe()));
    }
    if (!set.empty()) c.set = fmt::format(R"({{"set":{{{}}},"device":{}}})", set, json_string(c.device));
    return c;
}

} // namespace m2m
