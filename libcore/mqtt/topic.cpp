#include "mqtt/topic.hpp"
#include "util/bytes.hpp"
#include <fmt/format.h>
#include <simdjson.h>

namespace m2m {

bool TopicTemplate::has_fields() const {
    for (auto& p : parts)
        if (p.field) return true;
    return false;
}

Expected<TopicTemplate> TopicTemplate::parse(const std::string& t) {
    TopicTemplate tt;
    size_t i = 0;
    while (i < t.size()) {
        size_t open = t.find('{', i);
        if (open == std::string::npos) {
            tt.parts.push_back({t.substr(i), false});
            break;
        }
        if (open > i) tt.parts.push_back({t.substr(i, open - i), false});
        size_t close = t.find('}', open);
        if (close == std::string::npos || close == open + 1)
            return fail(Exit::usage,
                        fmt::format("bad topic template '{}': '{{' without a field name and '}}'", t));
        tt.parts.push_back({t.substr(open + 1, close - open - 1), true});
        i = close + 1;
    }
    return tt;
}

Expected<std::string> TopicTemplate::expand(const Record& r) const {
    std::string topic;
    for (auto& p : parts) {
        if (!p.field) {
            topic += p.text;
            continue;
        }
        auto v = field_text(r, p.text);
        if (!v) return v;
        topic += *v;
    }
    return topic;
}

std::string TopicTemplate::plain() const {
    std::string t;
    for (auto& p : parts)
        t += p.text;
    return t;
}

Expected<std::string> field_text(const Record& r, const std::string& name) {
    if (name == "topic" && r.topic) return *r.topic;
    if (name == "src" && !r.src.empty()) return r.src;
    if (name == "dir" && !r.dir.empty()) return r.dir;
    if (name == "seq" && r.seq) return std::to_string(*r.seq);
    if (name == "qos" && r.qos) return std::to_string(*r.qos);
    for (auto& f : r.extra) {
        if (f.key != name) continue;
        const std::string& raw = f.raw_value;
        if (!raw.empty() && raw[0] == '"') {
            if (raw.find('\\') == std::string::npos) return raw.substr(1, raw.size() - 2);
            static thread_local simdjson::dom::parser parser;
            std::string_view s;
            if (!parser.parse(raw).get_string().get(s)) return std::string(s);
        } else if (!raw.empty() && raw[0] != '{' && raw[0] != '[' && raw != "null") {
            return raw;
        }
        return fail(Exit::bad_data, fmt::format("topic field '{}' is not a string, number or boolean", name));
    }
    return fail(Exit::bad_data,
                fmt::format("the topic template needs field '{}', which the record lacks (add it upstream "
                            "with --set {}=VALUE, as in m2m-listen ... --set {}=pump1)",
                            name, name, name));
}

Status check_topic(const std::string& t) {
    if (t.empty()) return fail(Exit::bad_data, "empty topic");
    // longer would wrap the topic's 16-bit length: the broker would read the rest as another topic
    if (t.size() > 65535)
        return fail(Exit::bad_data, fmt::format("topic of {} bytes: MQTT allows at most 65,535", t.size()));
    if (t.find_first_of("+#") != std::string::npos)
        return fail(Exit::bad_data,
                    fmt::format("topic '{}' has a wildcard (+ or #), which a publish cannot use", t));
    if (t.find('\0') != std::string::npos || !is_valid_utf8(t))
        return fail(Exit::bad_data, "topic is not valid UTF-8 (or holds a NUL)");
    return {};
}

Status check_filter(const std::string& f) {
    if (f.empty()) return fail(Exit::usage, "an empty topic filter");
    size_t start = 0;
    for (;;) {
        size_t end = f.find('/', start);
        std::string_view level =
            std::string_view(f).substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1)
            return fail(Exit::usage, fmt::format("filter '{}': + and # stand alone in a level", f));
        if (level == "#" && end != std::string::npos)
            return fail(Exit::usage, fmt::format("filter '{}': # comes last", f));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
}

bool topic_matches(std::string_view filter, std::string_view topic) {
    if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#'))
        return false;
    for (;;) {
        size_t fe = filter.find('/'), te = topic.find('/');
        std::string_view fl = filter.substr(0, fe), tl = topic.substr(0, te);
        if (fl == "#") return true;
        if (fl != "+" && fl != tl) return false;
        if (fe == std::string_view::npos || te == std::string_view::npos)
            return (fe == std::string_view::npos && te == std::string_view::npos) ||
                   (te == std::string_view::npos && filter.substr(fe + 1) == "#"); // a/# matches a
        filter.remove_prefix(fe + 1);
        topic.remove_prefix(te + 1);
    }
}

} // namespace m2m
