#include "links/uri.hpp"
#include "util/suggest.hpp"
#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace m2m {

namespace {

const std::map<std::string, std::vector<std::string>>& query_keys() {
    static const std::map<std::string, std::vector<std::string>> keys = {
        {"serial",
         {"baud", "mode", "flow", "dtr", "rts", "serial-number", "vid", "pid", "rs485", "rts_on_send",
          "delay_before", "delay_after", "rx_during_tx", "reset"}},
        {"pty", {"baud", "mode"}},
        {"tcp", {}},
        {"tcp-listen", {}},
        {"udp", {}},
        {"udp-listen", {}},
        {"file", {}},
        {"stdio", {}},
        {"mqtt", {"qos", "v", "retain", "client-id", "keepalive"}},
        {"mqtts", {"qos", "v", "retain", "client-id", "keepalive"}},
        {"ws", {"qos", "v", "retain", "client-id", "keepalive"}},
        {"wss", {"qos", "v", "retain", "client-id", "keepalive"}},
    };
    return keys;
}

std::string unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            auto hex = std::string(s.substr(i + 1, 2));
            char* end = nullptr;
            long v = std::strtol(hex.c_str(), &end, 16);
            if (end == hex.c_str() + 2) {
                out += static_cast<char>(v);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

Status split_host_port(Uri& u, std::string_view authority) {
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        u.user = unescape(authority.substr(0, at));
        authority.remove_prefix(at + 1);
    }
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return fail(Exit::usage, fmt::format("bad URI '{}': unclosed '[' in the IPv6 address", u.text));
        u.host = authority.substr(1, close - 1);
        authority.remove_prefix(close + 1);
        if (authority.starts_with(':'))
            u.port = authority.substr(1);
        else if (!authority.empty())
            return fail(Exit::usage, fmt::format("bad URI '{}': expected ':PORT' after ']'", u.text));
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (!u.port.empty()) {
        bool digits = std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || u.port.size() > 5 || std::stoul(u.port) > 65535)
            return fail(Exit::usage, fmt::format("bad URI '{}': port '{}' is not a number from 0 to 65535",
                                                 u.text, u.port));
    }
    return {};
}

} // namespace

std::string Uri::get(std::string_view key, std::string_view fallback) const {
    for (auto& [k, v] : query)
        if (k == key) return v;
    return std::string(fallback);
}

bool Uri::has(std::string_view key) const {
    return std::any_of(query.begin(), query.end(), [&](auto& kv) { return kv.first == key; });
}

const std::vector<std::string>& link_schemes() {
    static const std::vector<std::string> s = {"serial", "pty",        "tcp", "tcp-listen",
                                               "udp",    "udp-listen", "file"};
    return s;
}

Expected<Uri> parse_uri(std::string_view text) {
    Uri u;
    u.text = text;
    if (text.empty()) return fail(Exit::usage, "empty endpoint URI");
    if (text == "-") {
        u.scheme = "stdio";
        return u;
    }
    if (text.starts_with('/')) {
        u.scheme = "serial";
        u.path = text;
        return u;
    }
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return fail(Exit::usage, fmt::format("bad URI '{}': no scheme; expected serial:/dev/ttyUSB0, pty:, "
                                             "tcp://host:port, udp://host:port, file:PATH or -",
                                             text));
    u.scheme = text.substr(0, colon);
    std::vector<std::string> schemes;
    for (auto& [s, keys] : query_keys())
        if (s != "stdio") schemes.push_back(s);
    if (!query_keys().contains(u.scheme) || u.scheme == "stdio")
        return fail(Exit::usage, fmt::format("bad URI '{}': unknown scheme '{}'{}", text, u.scheme,
                                             did_you_mean(u.scheme, schemes)));
    std::string_view rest = text.substr(colon + 1);
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        rest = rest.substr(0, q);
        const auto& allowed = query_keys().at(u.scheme);
        while (!query.empty()) {
            auto amp = query.find('&');
            std::string_view pair = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
            auto eq = pair.find('=');
            std::string key = unescape(pair.substr(0, eq));
            std::string value = eq == std::string_view::npos ? "" : unescape(pair.substr(eq + 1));
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
                return fail(Exit::usage,
                            fmt::format("bad URI '{}': unknown option '{}' for {}:{}{}", text, key, u.scheme,
                                        did_you_mean(key, allowed),
                                        allowed.empty()
                                            ? " (it takes none)"
                                            : fmt::format("; known: {}", fmt::join(allowed, ", "))));
            u.query.emplace_back(std::move(key), std::move(value));
        }
    }
    bool network = u.scheme != "serial" && u.scheme != "pty" && u.scheme != "file";
    if (!network) {
        u.path = unescape(rest);
        if (u.scheme == "file" && u.path.empty())
            return fail(Exit::usage, fmt::format("bad URI '{}': file: needs a path", text));
        if (u.scheme == "serial" && u.path.empty() && !u.has("serial-number") && !u.has("vid"))
            return fail(Exit::usage, fmt::format("bad URI '{}': serial: needs a device path or "
                                                 "?serial-number= / ?vid=&pid=",
                                                 text));
        return u;
    }
    if (!rest.starts_with("//"))
        return fail(Exit::usage, fmt::format("bad URI '{}': expected {}://HOST:PORT", text, u.scheme));
    rest.remove_prefix(2);
    auto slash = rest.find('/');
    if (auto st = split_host_port(u, rest.substr(0, slash)); !st) return std::unexpected(st.error());
    if (slash != std::string_view::npos) u.path = unescape(rest.substr(slash + 1));
    bool listen = u.scheme.ends_with("-listen");
    if (u.scheme.starts_with("mqtt") || u.scheme == "ws" || u.scheme == "wss") {
        if (u.host.empty()) u.host = "localhost";
        if (u.port.empty())
            u.port = u.scheme == "mqtts" ? "8883"
                     : u.scheme == "ws"  ? "80"
                     : u.scheme == "wss" ? "443"
                                         : "1883";
    } else {
        if (!listen && u.host.empty())
            return fail(Exit::usage, fmt::format("bad URI '{}': {}:// needs a host", text, u.scheme));
        if (u.port.empty())
            return fail(Exit::usage, fmt::format("bad URI '{}': {}:// needs a port", text, u.scheme));
        if (!u.path.empty())
            return fail(Exit::usage, fmt::format("bad URI '{}': {}:// takes no path", text, u.scheme));
    }
    return u;
}

} // namespace m2m
