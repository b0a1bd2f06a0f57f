#pragma once
// Endpoint URIs, one syntax for every tool (docs/design.md, "Endpoints").
#include "util/error.hpp"
#include <string>
#include <utility>
#include <vector>

namespace m2m {

struct Uri {
    std::string text;   // as the user wrote it
    std::string scheme; // serial, pty, tcp, tcp-listen, udp, udp-listen, file, stdio, mqtt, mqtts
    std::string path;   // serial device, pty link path, file path, MQTT topic
    std::string host;
    std::string port;
    std::string user;
    std::vector<std::pair<std::string, std::string>> query;

    /// The query value for `key`, or `fallback`.
    std::string get(std::string_view key, std::string_view fallback = "") const;
    bool has(std::string_view key) const;
};

/// Parses an endpoint; a bare absolute path means serial:PATH. Unknown schemes and query keys are
/// usage errors that suggest the closest valid spelling.
Expected<Uri> parse_uri(std::string_view text);

/// The schemes a link (not a broker) can use.
const std::vector<std::string>& link_schemes();

} // namespace m2m
