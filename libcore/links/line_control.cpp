// termios2 lives in <asm/termbits.h>, which cannot share a file with glibc's <termios.h>: the
// line controls are here, on their own.
#include "links/line_control.hpp"
#include "util/duration.hpp"
#include <algorithm>
#include <asm/termbits.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/ranges.h>
#include <linux/serial.h>
#include <sys/ioctl.h>

namespace m2m {

namespace {

std::string errtext(int err) {
    return std::strerror(err);
}

void sleep_us(int64_t us) {
    timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

} // namespace

Status set_custom_baud(int fd, int baud) {
    termios2 t{};
    if (ioctl(fd, TCGETS2, &t) < 0)
        return fail(Exit::unavailable, fmt::format("cannot read the line settings: {}", errtext(errno)));
    t.c_cflag &= ~CBAUD;
    t.c_cflag |= BOTHER;
    t.c_cflag &= ~(CBAUD << IBSHIFT); // input at the output rate
    t.c_ispeed = t.c_ospeed = static_cast<speed_t>(baud);
    if (ioctl(fd, TCSETS2, &t) < 0)
        return fail(Exit::usage, fmt::format("baud {}: the driver refuses it: {}", baud, errtext(errno)));
    termios2 back{};
    if (ioctl(fd, TCGETS2, &back) == 0 && back.c_ospeed != static_cast<speed_t>(baud)) {
        // a driver rounds to what its clock divides to; more than 3 % off garbles every byte
        double off = std::abs(static_cast<double>(back.c_ospeed) - baud) / baud;
        if (off > 0.03)
            return fail(Exit::usage,
                        fmt::format("baud {}: the driver can only get to {}", baud, back.c_ospeed));
    }
    return {};
}

int current_baud(int fd) {
    termios2 t{};
    if (ioctl(fd, TCGETS2, &t) < 0) return 0;
    return static_cast<int>(t.c_ospeed);
}

Status set_rs485(int fd, const Rs485Settings& s, const std::string& name) {
    serial_rs485 conf{};
    if (s.enabled) {
        conf.flags = SER_RS485_ENABLED;
        conf.flags |= s.rts_on_send ? SER_RS485_RTS_ON_SEND : SER_RS485_RTS_AFTER_SEND;
        if (s.rx_during_tx) conf.flags |= SER_RS485_RX_DURING_TX;
        conf.delay_rts_before_send = s.delay_before;
        conf.delay_rts_after_send = s.delay_after;
    }
    if (ioctl(fd, TIOCSRS485, &conf) < 0) {
        int err = errno;
        if (err == ENOTTY || err == EINVAL)
            return fail(Exit::unavailable,
                        fmt::format("{} has no RS-485 mode (TIOCSRS485: {}); use an adapter whose driver "
                                    "switches the transceiver, or drop rs485=1",
                                    name, errtext(err)));
        return fail(Exit::unavailable, fmt::format("{}: cannot set RS-485 mode: {}", name, errtext(err)));
    }
    return {};
}

Expected<std::vector<LineStep>> pulse_plan(std::string_view spec, int current) {
    auto bad = [&](std::string why) {
        return fail(Exit::usage,
                    fmt::format("reset '{}': {}; expected dtr:100ms, rts:50ms or dtr+rts:100ms", spec, why));
    };
    auto colon = spec.find(':');
    if (colon == std::string_view::npos) return bad("no duration");
    std::string_view which = spec.substr(0, colon);
    int lines = 0;
    while (!which.empty()) {
        auto plus = which.find('+');
        std::string_view one = which.substr(0, plus);
        if (one == "dtr")
            lines |= TIOCM_DTR;
        else if (one == "rts")
            lines |= TIOCM_RTS;
        else
            return bad(fmt::format("no line '{}'", one));
        which = plus == std::string_view::npos ? std::string_view() : which.substr(plus + 1);
    }
    if (!lines) return bad("no line");
    auto d = parse_duration(spec.substr(colon + 1));
    if (!d) return bad(d.error().message);
    if (d->count() <= 0 || d->count() > 10000000)
        return bad("the pulse must last more than 0 and at most 10 s");
    int up = current & lines, down = ~current & lines; // each line flips, then flips back
    std::vector<LineStep> steps;
    if (up) steps.push_back({LineStep::drop, up, 0});
    if (down) steps.push_back({LineStep::raise, down, 0});
    steps.push_back({LineStep::wait, 0, d->count()});
    if (up) steps.push_back({LineStep::raise, up, 0});
    if (down) steps.push_back({LineStep::drop, down, 0});
    return steps;
}

int modem_lines(int fd) {
    int bits = 0;
    if (ioctl(fd, TIOCMGET, &bits) < 0) return -1;
    return bits;
}

Status run_line_steps(int fd, const std::vector<LineStep>& steps, const std::string& name) {
    for (auto& s : steps) {
        if (s.kind == LineStep::wait) {
            sleep_us(s.us);
            continue;
        }
        int bits = s.lines;
        if (ioctl(fd, s.kind == LineStep::raise ? TIOCMBIS : TIOCMBIC, &bits) < 0)
            return fail(Exit::unavailable,
                        fmt::format("{} has no modem lines to set (DTR/RTS): {}", name, errtext(errno)));
    }
    return {};
}

Status send_break(int fd, int64_t us, const std::string& name) {
    if (ioctl(fd, TIOCSBRK) < 0)
        return fail(Exit::unavailable, fmt::format("{}: cannot send a break: {}", name, errtext(errno)));
    sleep_us(us);
    if (ioctl(fd, TIOCCBRK) < 0)
        return fail(Exit::runtime, fmt::format("{}: cannot end the break: {}", name, errtext(errno)));
    return {};
}

namespace {

enum : unsigned { icrnl = 1, igncr = 2, inlcr = 4, inlcrnl = 8 };
enum : unsigned { ocrnl = 1, onlcrnl = 2, oltu = 4, odelbs = 8 };

struct MapName {
    const char* name;
    bool input;
    unsigned bit;
};
constexpr MapName map_names[] = {
    {"ICRNL", true, icrnl},  {"IGNCR", true, igncr},      {"INLCR", true, inlcr}, {"INLCRNL", true, inlcrnl},
    {"OCRNL", false, ocrnl}, {"ONLCRNL", false, onlcrnl}, {"OLTU", false, oltu},  {"ODELBS", false, odelbs}};

} // namespace

const std::vector<std::string>& ByteMap::names() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> out;
        for (auto& m : map_names)
            out.emplace_back(m.name);
        return out;
    }();
    return v;
}

Expected<ByteMap> ByteMap::parse(std::string_view spec) {
    ByteMap m;
    while (!spec.empty()) {
        auto comma = spec.find(',');
        std::string_view one = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        if (one.empty()) continue;
        std::string up(one);
        std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
        auto it = std::find_if(std::begin(map_names), std::end(map_names),
                               [&](const MapName& n) { return up == n.name; });
        if (it == std::end(map_names))
            return fail(Exit::usage,
                        fmt::format("--map: no map '{}'; the maps are {}", one, fmt::join(names(), ", ")));
        (it->input ? m.in_ : m.out_) |= it->bit;
    }
    return m;
}

std::string ByteMap::input(std::string_view bytes) const {
    std::string out;
    out.reserve(bytes.size());
    for (char c : bytes) {
        if (c == '\r') {
            if (in_ & igncr) continue;
            if (in_ & icrnl) c = '\n';
        } else if (c == '\n') {
            if (in_ & inlcrnl) {
                out += "\r\n";
                continue;
            }
            if (in_ & inlcr) c = '\r';
        }
        out += c;
    }
    return out;
}

std::string ByteMap::output(std::string_view bytes) const {
    std::string out;
    out.reserve(bytes.size());
    for (char c : bytes) {
        if (c == '\r' && out_ & ocrnl)
            c = '\n';
        else if (c == '\n' && out_ & onlcrnl) {
            out += "\r\n";
            continue;
        }
        if (out_ & oltu && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (out_ & odelbs && c == 0x7f) c = 0x08;
        out += c;
    }
    return out;
}

} // namespace m2m
