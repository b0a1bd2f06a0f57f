#include "apps/sub/format.hpp"
#include "mqttwire/wire.hpp"
#include "util/bytes.hpp"
#include <ctime>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

namespace m2m {

namespace {

/// mosquitto_sub's JSON string escaping: quote, backslash and control bytes; other bytes as they are
/// (not append_json_string, which repairs invalid UTF-8: mosquitto_sub passes it through).
void json_escape(std::string& out, std::string_view s) {
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
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
            if (c < 0x20)
                out += fmt::format("\\u{:04x}", c);
            else
                out += static_cast<char>(c);
        }
    }
}

struct Props {
    std::string content_type, response_topic, correlation;
    std::vector<std::pair<std::string, std::string>> user;
    long topic_alias = -1, expiry = -1, format = -1, sub_id = -1;
};

Props props_of(std::string_view block) {
    Props p;
    auto number = [](std::string_view v) { return static_cast<long>(wire::property_number(v)); };
    wire::each_property(block, [&](int id, std::string_view v) {
        switch (id) {
        case 0x01:
            p.format = number(v);
            break;
        case 0x02:
            p.expiry = number(v);
            break;
        case 0x03:
            p.content_type = v;
            break;
        case 0x08:
            p.response_topic = v;
            break;
        case 0x09:
            p.correlation = v;
            break;
        case 0x0B:
            p.sub_id = static_cast<long>(wire::property_varint(v));
            break;
        case 0x23:
            p.topic_alias = number(v);
            break;
        case 0x26: {
            auto [k, val] = wire::user_property(v);
            p.user.emplace_back(k, val);
            break;
        }
        }
    });
    return p;
}

std::string iso_time(int64_t ns, bool micro) {
    time_t secs = static_cast<time_t>(ns / 1000000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    char buf[64], zone[16];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm);
    // mosquitto_sub 2.0 writes %j's time as ...SS.uuuuuuZ+hhmm: kept, so output compares byte for byte
    return micro ? fmt::format("{}.{:06}Z{}", buf, (ns / 1000) % 1000000, zone)
                 : fmt::format("{}{}", buf, zone);
}

} // namespace

Expected<MqttFormat> MqttFormat::parse(const std::string& f) {
    MqttFormat out;
    auto bad = [&](const std::string& why) { return fail(Exit::usage, fmt::format("-F '{}': {}", f, why)); };
    std::string lit;
    auto flush = [&] {
        if (lit.empty()) return;
        Item t;
        t.text = std::move(lit);
        out.items_.push_back(std::move(t));
        lit.clear();
    };
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (c == '\\') {
            if (++i == f.size()) return bad("a '\\' at the end");
            static const std::string from = "\\0aenrtv", to = std::string("\\\0\a\x1b\n\r\t\v", 8);
            auto k = from.find(f[i]);
            if (k == std::string::npos) return bad(fmt::format("unknown escape '\\{}'", f[i]));
            lit += to[k];
        } else if (c == '@') {
            if (++i == f.size()) return bad("an '@' at the end");
            if (f[i] == '@') {
                lit += '@';
                continue;
            }
            flush();
            Item at;
            at.kind = '@';
            at.code = f[i];
            out.items_.push_back(std::move(at));
        } else if (c == '%') {
            Item it;
            it.kind = '%';
            ++i;
            for (; i < f.size() && (f[i] == '-' || f[i] == '0'); ++i)
                (f[i] == '-' ? it.left : it.zero) = true;
            if (i < f.size() && f[i] >= '1' && f[i] <= '9') {
                it.width = 0;
                for (; i < f.size() && f[i] >= '0' && f[i] <= '9'; ++i)
                    it.width = it.width * 10 + (f[i] - '0');
            }
            if (i < f.size() && f[i] == '.') {
                it.precision = 0;
                for (++i; i < f.size() && f[i] >= '0' && f[i] <= '9'; ++i)
                    it.precision = it.precision * 10 + (f[i] - '0');
            }
            if (i == f.size()) return bad("an incomplete % sequence at the end");
            it.code = f[i];
            if (it.code == '%') {
                lit += '%';
                continue;
            }
            if (std::string_view("ACDEFIjJlmPpqRrStUxX").find(it.code) == std::string_view::npos)
                return bad(
                    fmt::format("unknown sequence '%{}' (mosquitto_sub's codes: %t %p %x %X %l %q %r %m "
                                "%j %J %I %U %A %C %D %E %F %P %R %S)",
                                it.code));
            flush();
            out.items_.push_back(std::move(it));
        } else {
            lit += c;
        }
    }
    flush();
    return out;
}

bool MqttFormat::render(const MqttArrival& m, int mid, int64_t now_ns, std::string& out,
                        std::string& why) const {
    bool ok = true;
    std::optional<Props> props;
    auto pr = [&]() -> const Props& {
        if (!props) props = props_of(m.props);
        return *props;
    };
    auto pad = [&](const Item& it, std::string v, bool numeric) {
        if (it.precision >= 0 && static_cast<int>(v.size()) > it.precision &&
            std::string_view("CIRt").find(it.code) != std::string_view::npos)
            v.resize(static_cast<size_t>(it.precision));
        if (it.width > static_cast<int>(v.size())) {
            size_t n = static_cast<size_t>(it.width) - v.size();
            if (it.left)
                v.append(n, ' ');
            else
                v.insert(0, n, numeric && it.zero ? '0' : ' ');
        }
        out += v;
    };
    auto json = [&](bool raw_payload) -> bool {
        out += "{\"tst\":\"" + iso_time(now_ns, true) + "\",\"topic\":\"";
        json_escape(out, m.topic);
        out += fmt::format("\",\"qos\":{},\"retain\":{},\"payloadlen\":{}", m.qos, m.retain ? 1 : 0,
                           m.payload.size());
        if (m.id && m.qos > 0) out += fmt::format(",\"mid\":{}", m.id);
        if (!m.props.empty()) { // in the order the broker sent them, user properties as one object
            std::vector<std::string> entries;
            std::string users;
            size_t user_at = std::string::npos;
            auto number = wire::property_number;
            auto str = [](const char* k, std::string_view v) {
                std::string e = fmt::format("\"{}\":\"", k);
                json_escape(e, v);
                return e + '"';
            };
            wire::each_property(m.props, [&](int id, std::string_view v) {
                switch (id) {
                case 0x01:
                    entries.push_back(fmt::format("\"payload-format-indicator\":{}", number(v)));
                    break;
                case 0x02:
                    entries.push_back(fmt::format("\"message-expiry-interval\":{}", number(v)));
                    break;
                case 0x03:
                    entries.push_back(str("content-type", v));
                    break;
                case 0x08:
                    entries.push_back(str("response-topic", v));
                    break;
                case 0x09:
                    entries.push_back(str("correlation-data", v));
                    break;
                case 0x0B:
                    entries.push_back(
                        fmt::format("\"subscription-identifier\":{}", wire::property_varint(v)));
                    break;
                case 0x23:
                    entries.push_back(fmt::format("\"topic-alias\":{}", number(v)));
                    break;
                case 0x26: {
                    auto [k, val] = wire::user_property(v);
                    if (user_at == std::string::npos) user_at = entries.size(), entries.emplace_back();
                    users += users.empty() ? "\"" : ",\"";
                    json_escape(users, k);
                    users += "\":\"";
                    json_escape(users, val);
                    users += '"';
                    break;
                }
                }
            });
            if (user_at != std::string::npos) entries[user_at] = "\"user-properties\":{" + users + "}";
            if (!entries.empty()) out += fmt::format(",\"properties\":{{{}}}", fmt::join(entries, ","));
        }
        out += ",\"payload\":";
        if (m.payload.empty()) { // no payload at all: null, with %j and %J alike
            out += "null}";
            return true;
        }
        if (raw_payload) {
            simdjson::dom::parser parser;
            simdjson::padded_string padded(m.payload);
            if (parser.parse(padded).error()) {
                why = fmt::format("Error: Message payload is not valid JSON on topic {}.", m.topic);
                return false;
            }
            out += m.payload;
        } else {
            out += '"';
            json_escape(out, m.payload.substr(0, m.payload.find('\0'))); // a C string there: it ends at a NUL
            out += '"';
        }
        out += '}';
        return true;
    };
    for (auto& it : items_) {
        if (it.kind == 0) {
            out += it.text;
            continue;
        }
        if (it.kind == '@') {
            if (it.code == 'N') {
                out += fmt::format("{:09}", now_ns % 1000000000);
                continue;
            }
            time_t secs = static_cast<time_t>(now_ns / 1000000000);
            struct tm tm;
            localtime_r(&secs, &tm);
            char fmtbuf[3] = {'%', it.code, 0}, buf[256];
            size_t n = strftime(buf, sizeof buf, fmtbuf, &tm);
            out.append(buf, n);
            continue;
        }
        switch (it.code) {
        case 't':
            pad(it, std::string(m.topic), false);
            break;
        case 'p':
            pad(it, std::string(m.payload), false);
            break;
        case 'x':
        case 'X': {
            std::string h = to_hex(m.payload);
            if (it.code == 'X')
                for (auto& ch : h)
                    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            pad(it, h, true);
            break;
        }
        case 'l':
            pad(it, std::to_string(m.payload.size()), true);
            break;
        case 'm':
            pad(it, std::to_string(mid), true);
            break;
        case 'q':
            out += std::to_string(m.qos);
            break;
        case 'r':
            out += m.retain ? '1' : '0';
            break;
        case 'I':
            pad(it, iso_time(now_ns, false), false);
            break;
        case 'U':
            out += fmt::format("{}.{:09}", now_ns / 1000000000, now_ns % 1000000000);
            break;
        case 'j':
        case 'J': { // a payload that is not JSON leaves %J empty (and says so), as mosquitto_sub does
            size_t before = out.size();
            if (!json(it.code == 'J')) {
                out.resize(before);
                ok = false;
            }
            break;
        }
        case 'A':
            if (pr().topic_alias >= 0) pad(it, std::to_string(pr().topic_alias), true);
            break;
        case 'C':
            if (!pr().content_type.empty()) pad(it, pr().content_type, false);
            break;
        case 'D':
            out += pr().correlation;
            break;
        case 'E':
            if (pr().expiry >= 0) pad(it, std::to_string(pr().expiry), true);
            break;
        case 'F':
            if (pr().format >= 0) pad(it, std::to_string(pr().format), true);
            break;
        case 'P':
            for (size_t i = 0; i < pr().user.size(); ++i)
                out += (i ? " " : "") + pr().user[i].first + ":" + pr().user[i].second;
            break;
        case 'R':
            if (!pr().response_topic.empty()) pad(it, pr().response_topic, false);
            break;
        case 'S':
            if (pr().sub_id >= 0) pad(it, std::to_string(pr().sub_id), true);
            break;
        }
    }
    return ok;
}

} // namespace m2m
