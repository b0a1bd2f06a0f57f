#pragma once
#include "links/line_control.hpp"
#include "links/link.hpp"
#include <optional>
#include <vector>

namespace m2m {

/// Line settings from the URI query: baud=115200&mode=8N1&flow=none&dtr=on&rts=off, RS-485
/// (rs485=1&rts_on_send=1&delay_before=1&delay_after=1, delays in ms) and a reset pulse at open
/// (reset=dtr:100ms).
struct SerialSettings {
    int baud = 115200;
    int data_bits = 8;
    char parity = 'N'; // N, E, O, M, S
    int stop_bits = 1;
    std::string flow = "none"; // none, rtscts, xonxoff, dtrdsr
    std::optional<bool> dtr, rts;
    std::optional<Rs485Settings> rs485; // set when the URI asks for rs485=0 or 1
    std::string reset;                  // a pulse at open: dtr:100ms, rts:50ms, dtr+rts:100ms
};

/// Changes the rate of an open tty (standard rates with termios, others with termios2).
Status set_tty_baud(int fd, int baud);

/// After the line is configured: RS-485 mode and the reset pulse the settings ask for.
Status apply_line_extras(int fd, const SerialSettings& s, const std::string& name);

Expected<SerialSettings> parse_serial_settings(const Uri& uri);

/// Applies the settings to a tty with termios (ptys, and ports libserialport refuses).
Status configure_termios(int fd, const SerialSettings& s);

std::unique_ptr<Link> make_serial_link(const Uri& uri, SerialSettings settings);

/// Whether opening a serial device takes it for this process alone (flock, as tio and picocom
/// do, and TIOCEXCL): a second opener gets exit 4 naming the holder. --no-lock turns it off.
void set_device_locking(bool on);
/// Takes the advisory lock on an open device; the error names the PID and program holding it.
Status lock_device(int fd, const std::string& name);
std::unique_ptr<Link> make_pty_link(const Uri& uri, SerialSettings settings);

/// A serial port as `m2m-listen --list` shows it.
struct PortInfo {
    std::string port, by_id, transport, description, vid, pid, serial_number, manufacturer, product;
};
std::vector<PortInfo> list_serial_ports();

} // namespace m2m
