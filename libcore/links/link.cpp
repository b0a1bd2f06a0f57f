#include "links/link.hpp"
#include "links/serial.hpp"
#include <fmt/format.h>

namespace m2m {

std::unique_ptr<Link> make_stream_link(const Uri& uri, LinkRole role);
std::unique_ptr<Link> make_socket_link(const Uri& uri);

Expected<std::unique_ptr<Link>> open_link(const Uri& uri, LinkRole role) {
    if (uri.scheme == "serial" || uri.scheme == "pty") {
        auto settings = parse_serial_settings(uri);
        if (!settings) return std::unexpected(settings.error());
        return uri.scheme == "serial" ? make_serial_link(uri, *settings) : make_pty_link(uri, *settings);
    }
    if (uri.scheme == "file" || uri.scheme == "stdio") return make_stream_link(uri, role);
    if (uri.scheme.starts_with("mqtt"))
        return fail(Exit::usage,
                    fmt::format("'{}' is a broker, not a link: use iot-pub, iot-sub or bridge", uri.text));
    return make_socket_link(uri);
}

} // namespace m2m
