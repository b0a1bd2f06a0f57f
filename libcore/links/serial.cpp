// serial: links. Real ports go through libserialport; ptys and anything libserialport 0.1.1
// refuses (it needs a sysfs entry and reads modem lines on open, which a pty does not have) are
// opened with plain termios. Either way the link is one non-blocking fd.
#include "links/serial.hpp"
#include "links/fd_link.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <libserialport.h>
#include <sstream>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

namespace m2m {

Expected<SerialSettings> parse_serial_settings(const Uri& uri) {
    SerialSettings s;
    auto bad = [&](std::string what) {
        return fail(Exit::usage, fmt::format("bad URI '{}': {}", uri.text, what));
    };
    if (uri.has("baud")) {
        auto b = uri.get("baud");
        auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), s.baud);
        if (ec != std::errc() || end != b.data() + b.size() || s.baud <= 0)
            return bad(fmt::format("baud '{}' is not a positive number", b));
    }
    if (uri.has("mode")) {
        auto m = uri.get("mode");
        if (m.size() != 3 || m[0] < '5' || m[0] > '8' ||
            std::string_view("NEOMSneoms").find(m[1]) == std::string_view::npos ||
            (m[2] != '1' && m[2] != '2'))
            return bad(fmt::format(
                "mode '{}': expected data bits 5-8, parity N/E/O/M/S, stop bits 1/2, as 8N1 or 7E1", m));
        s.data_bits = m[0] - '0';
        s.parity = static_cast<char>(std::toupper(static_cast<unsigned char>(m[1])));
        s.stop_bits = m[2] - '0';
    }
    if (uri.has("flow")) {
        s.flow = uri.get("flow");
        if (s.flow != "none" && s.flow != "rtscts" && s.flow != "xonxoff" && s.flow != "dtrdsr")
            return bad(fmt::format("flow '{}': expected none, rtscts, xonxoff or dtrdsr", s.flow));
    }
    for (auto [key, dst] : {std::pair{"dtr", &s.dtr}, std::pair{"rts", &s.rts}}) {
        if (!uri.has(key)) continue;
        auto v = uri.get(key);
        if (v == "on" || v == "1")
            *dst = true;
        else if (v == "off" || v == "0")
            *dst = false;
        else
            return bad(fmt::format("{} '{}': expected on or off", key, v));
    }
    auto flag = [&](const char* key, bool& dst) -> Status {
        if (!uri.has(key)) return {};
        auto v = uri.get(key);
        if (v == "on" || v == "1")
            dst = true;
        else if (v == "off" || v == "0")
            dst = false;
        else
            return bad(fmt::format("{} '{}': expected 1 or 0", key, v));
        return {};
    };
    auto ms = [&](const char* key, uint32_t& dst) -> Status {
        if (!uri.has(key)) return {};
        auto v = uri.get(key);
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), dst);
        if (ec != std::errc() || end != v.data() + v.size() || dst > 1000)
            return bad(fmt::format("{} '{}': milliseconds, 0 to 1000", key, v));
        return {};
    };
    bool rs485_keys = false;
    for (auto* k : {"rts_on_send", "delay_before", "delay_after", "rx_during_tx"})
        rs485_keys |= uri.has(k);
    if (uri.has("rs485") || rs485_keys) {
        Rs485Settings r;
        r.enabled = true;
        if (auto st = flag("rs485", r.enabled); !st) return std::unexpected(st.error());
        if (auto st = flag("rts_on_send", r.rts_on_send); !st) return std::unexpected(st.error());
        if (auto st = flag("rx_during_tx", r.rx_during_tx); !st) return std::unexpected(st.error());
        if (auto st = ms("delay_before", r.delay_before); !st) return std::unexpected(st.error());
        if (auto st = ms("delay_after", r.delay_after); !st) return std::unexpected(st.error());
        if (!uri.has("rs485"))
            return bad("rts_on_send, delay_before, delay_after and rx_during_tx go with rs485=1");
        s.rs485 = r;
    }
    if (uri.has("reset")) {
        s.reset = uri.get("reset");
        if (auto plan = pulse_plan(s.reset, TIOCM_DTR | TIOCM_RTS); !plan) return bad(plan.error().message);
    }
    return s;
}

Status apply_line_extras(int fd, const SerialSettings& s, const std::string& name) {
    if (s.rs485)
        if (auto st = set_rs485(fd, *s.rs485, name); !st) return st;
    if (!s.reset.empty()) {
        int now = modem_lines(fd);
        if (now < 0)
            return fail(Exit::unavailable,
                        fmt::format("{} has no modem lines to pulse (reset={})", name, s.reset));
        auto plan = pulse_plan(s.reset, now);
        if (!plan) return std::unexpected(plan.error());
        if (auto st = run_line_steps(fd, *plan, name); !st) return st;
    }
    return {};
}

static speed_t termios_speed(int baud) {
    switch (baud) {
    case 50:
        return B50;
    case 75:
        return B75;
    case 110:
        return B110;
    case 134:
        return B134;
    case 150:
        return B150;
    case 200:
        return B200;
    case 300:
        return B300;
    case 600:
        return B600;
    case 1200:
        return B1200;
    case 1800:
        return B1800;
    case 2400:
        return B2400;
    case 4800:
        return B4800;
    case 9600:
        return B9600;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
    case 57600:
        return B57600;
    case 115200:
        return B115200;
    case 230400:
        return B230400;
    case 460800:
        return B460800;
    case 500000:
        return B500000;
    case 576000:
        return B576000;
    case 921600:
        return B921600;
    case 1000000:
        return B1000000;
    case 1152000:
        return B1152000;
    case 1500000:
        return B1500000;
    case 2000000:
        return B2000000;
    case 2500000:
        return B2500000;
    case 3000000:
        return B3000000;
    case 3500000:
        return B3500000;
    case 4000000:
        return B4000000;
    default:
        return 0;
    }
}

Status set_tty_baud(int fd, int baud) {
    speed_t speed = termios_speed(baud);
    if (!speed) return set_custom_baud(fd, baud);
    termios t{};
    if (tcgetattr(fd, &t) < 0)
        return fail(Exit::unavailable, fmt::format("not a serial device: {}", describe_errno(errno)));
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return fail(Exit::usage, fmt::format("baud {}: {}", baud, describe_errno(errno)));
    return {};
}

Status configure_termios(int fd, const SerialSettings& s) {
    termios t{};
    if (tcgetattr(fd, &t) < 0)
        return fail(Exit::unavailable, fmt::format("not a serial device: {}", describe_errno(errno)));
    cfmakeraw(&t);
    speed_t speed = termios_speed(s.baud);
    if (!speed) speed = B38400; // set below with termios2, once the rest is in place
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    t.c_cflag &= ~(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag |= s.data_bits == 5 ? CS5 : s.data_bits == 6 ? CS6 : s.data_bits == 7 ? CS7 : CS8;
    if (s.parity != 'N') t.c_cflag |= PARENB;
    if (s.parity == 'O' || s.parity == 'M') t.c_cflag |= PARODD;
    if (s.parity == 'M' || s.parity == 'S') t.c_cflag |= CMSPAR;
    if (s.stop_bits == 2) t.c_cflag |= CSTOPB;
    if (s.flow == "rtscts") t.c_cflag |= CRTSCTS;
    if (s.flow == "xonxoff") t.c_iflag |= IXON | IXOFF;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return fail(Exit::unavailable, fmt::format("cannot configure the port: {}", describe_errno(errno)));
    if (!termios_speed(s.baud))
        if (auto st = set_custom_baud(fd, s.baud); !st) return st;
    for (auto [line, want] : {std::pair{TIOCM_DTR, s.dtr}, std::pair{TIOCM_RTS, s.rts}}) {
        int bits = line;
        if (want) ioctl(fd, *want ? TIOCMBIS : TIOCMBIC, &bits); // ptys have no modem lines: ignored
    }
    return {};
}

namespace {

bool locking = true;

/// The PID holding a flock on the file `fd` is open on, from /proc/locks ("1: FLOCK ADVISORY WRITE
/// PID MAJ:MIN:INODE ..."); 0 when it cannot be told.
long lock_holder(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) return 0;
    std::string want = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev), minor(st.st_dev), st.st_ino);
    std::ifstream locks("/proc/locks");
    std::string line;
    while (std::getline(locks, line)) {
        std::istringstream in(line);
        std::string n, kind, adv, mode, pid, id;
        if (line.find("->") != std::string::npos) continue; // a waiter, not a holder
        if (!(in >> n >> kind >> adv >> mode >> pid >> id) || kind != "FLOCK" || id != want) continue;
        return std::strtol(pid.c_str(), nullptr, 10);
    }
    return 0;
}

} // namespace

void set_device_locking(bool on) {
    locking = on;
}

Status lock_device(int fd, const std::string& name) {
    if (!locking) return {};
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        ioctl(fd, TIOCEXCL); // other opens fail too (where the driver allows; root passes)
        return {};
    }
    if (errno != EWOULDBLOCK) return {}; // a file system without locks: nothing to share with
    long pid = lock_holder(fd);
    std::string who = "another program";
    if (pid > 0) {
        std::ifstream comm(fmt::format("/proc/{}/comm", pid));
        std::string prog;
        std::getline(comm, prog);
        who = prog.empty() ? fmt::format("PID {}", pid) : fmt::format("PID {} ({})", pid, prog);
    }
    return fail(Exit::unavailable, fmt::format("{} is in use by {}; --no-lock shares it", name, who));
}

namespace {

/// Finds the port whose USB identity matches ?serial-number= / ?vid=&pid=.
Expected<std::string> find_port(const Uri& uri) {
    for (auto& p : list_serial_ports()) {
        if (uri.has("serial-number") && p.serial_number != uri.get("serial-number")) continue;
        if (uri.has("vid") && p.vid != uri.get("vid")) continue;
        if (uri.has("pid") && p.pid != uri.get("pid")) continue;
        return p.port;
    }
    return fail(Exit::unavailable,
                fmt::format("no serial port matches {} (see m2m-listen --list)", uri.text));
}

class SerialLink final : public FdLink {
  public:
    SerialLink(const Uri& uri, SerialSettings s) : uri_(uri), settings_(std::move(s)) {
        name_ = uri.path.empty() ? uri.text : "serial:" + uri.path;
    }
    ~SerialLink() override { SerialLink::close(); }

    Status open() override {
        std::string path = uri_.path;
        if (path.empty()) {
            auto found = find_port(uri_);
            if (!found) return std::unexpected(found.error());
            path = *found;
        }
        if (open_libserialport(path)) {
            if (auto st = lock_device(fd_, "serial:" + path); !st) {
                close();
                return st;
            }
            if (!termios_speed(settings_.baud)) // a rate libserialport may not take
                if (auto st = set_custom_baud(fd_, settings_.baud); !st) {
                    close();
                    return st;
                }
            if (auto st = apply_line_extras(fd_, settings_, "serial:" + path); !st) {
                close();
                return st;
            }
            return {};
        }
        fd_ = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0)
            return fail(Exit::unavailable, fmt::format("cannot open {}: {}", path, describe_errno(errno)));
        // locked before it is configured: a second opener must not change the holder's line settings
        if (auto st = lock_device(fd_, "serial:" + path); !st) {
            close();
            return st;
        }
        if (auto st = configure_termios(fd_, settings_); !st) {
            close();
            return st;
        }
        if (auto st = apply_line_extras(fd_, settings_, "serial:" + path); !st) {
            close();
            return st;
        }
        return {};
    }
    int tty_fd() const override { return fd_; }
    void close() override {
        if (port_) {
            sp_close(port_);
            sp_free_port(port_);
            port_ = nullptr;
            fd_ = -1;
        }
        FdLink::close();
    }
    void drain() override {
        if (fd_ >= 0) tcdrain(fd_);
    }

  private:
    bool open_libserialport(const std::string& path) {
        sp_port* port = nullptr;
        if (sp_get_port_by_name(path.c_str(), &port) != SP_OK) return false;
        if (sp_open(port, SP_MODE_READ_WRITE) != SP_OK) {
            sp_free_port(port);
            return false;
        }
        sp_set_baudrate(port, settings_.baud);
        sp_set_bits(port, settings_.data_bits);
        sp_set_parity(port, settings_.parity == 'E'   ? SP_PARITY_EVEN
                            : settings_.parity == 'O' ? SP_PARITY_ODD
                            : settings_.parity == 'M' ? SP_PARITY_MARK
                            : settings_.parity == 'S' ? SP_PARITY_SPACE
                                                      : SP_PARITY_NONE);
        sp_set_stopbits(port, settings_.stop_bits);
        sp_set_flowcontrol(port, settings_.flow == "rtscts"    ? SP_FLOWCONTROL_RTSCTS
                                 : settings_.flow == "xonxoff" ? SP_FLOWCONTROL_XONXOFF
                                 : settings_.flow == "dtrdsr"  ? SP_FLOWCONTROL_DTRDSR
                                                               : SP_FLOWCONTROL_NONE);
        if (settings_.dtr) sp_set_dtr(port, *settings_.dtr ? SP_DTR_ON : SP_DTR_OFF);
        if (settings_.rts) sp_set_rts(port, *settings_.rts ? SP_RTS_ON : SP_RTS_OFF);
        int fd = -1;
        sp_get_port_handle(port, &fd);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        port_ = port;
        fd_ = fd;
        owns_fd_ = false; // sp_close closes it
        return true;
    }

    Uri uri_;
    SerialSettings settings_;
    sp_port* port_ = nullptr;
};

} // namespace

std::unique_ptr<Link> make_serial_link(const Uri& uri, SerialSettings settings) {
    return std::make_unique<SerialLink>(uri, std::move(settings));
}

} // namespace m2m
