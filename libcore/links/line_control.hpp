#pragma once
// The controls of a serial line beyond bytes: any baud rate the driver accepts (termios2), RS-485
// direction control, the DTR/RTS modem lines and their pulses (board resets), and break.
#include "util/error.hpp"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

/// Sets a rate that has no Bnnn constant (74880, 250000 ...) with termios2 BOTHER; the error is
/// the kernel's refusal, read back when the driver changed it.
Status set_custom_baud(int fd, int baud);
/// The rate the line runs at now (termios2), 0 when it cannot be read.
int current_baud(int fd);

/// RS-485 mode through TIOCSRS485: the driver switches the transceiver with RTS.
struct Rs485Settings {
    bool enabled = false;
    bool rts_on_send = true;   // RTS high while sending (else low)
    uint32_t delay_before = 0; // ms between RTS and the first bit
    uint32_t delay_after = 0;  // ms between the last bit and RTS back
    bool rx_during_tx = false; // receive while sending (echo of the bus)
};
/// `name` for the message: a device with no RS-485 mode (a pty, most USB adapters) is named.
Status set_rs485(int fd, const Rs485Settings& s, const std::string& name);

/// One step of a modem-line sequence: raise or drop lines (TIOCM_DTR / TIOCM_RTS bits), or wait.
struct LineStep {
    enum Kind { raise, drop, wait } kind;
    int lines = 0;
    int64_t us = 0;
    bool operator==(const LineStep&) const = default;
};
/// A pulse as tio gives it: the lines flipped from their state `current` (TIOCMGET bits) for
/// `us`, then back. A spec is "dtr:100ms", "rts:50ms" or "dtr+rts:100ms".
Expected<std::vector<LineStep>> pulse_plan(std::string_view spec, int current);
/// Runs the steps on a tty (ioctl and sleep); ptys have no modem lines: a clear error.
Status run_line_steps(int fd, const std::vector<LineStep>& steps, const std::string& name);
/// The modem lines now (TIOCM_* bits), or -1 where there are none.
int modem_lines(int fd);
/// Holds the line in break (space) for `us`, then releases it.
Status send_break(int fd, int64_t us, const std::string& name);

/// Line-ending maps with tio's names, applied to received (I...) or sent (O...) bytes:
/// ICRNL (CR to NL), IGNCR (drop CR), INLCR (NL to CR), INLCRNL (NL to CR NL), OCRNL (CR to NL),
/// ONLCRNL (NL to CR NL), OLTU (lower to upper case), ODELBS (DEL to BS).
class ByteMap {
  public:
    /// "ICRNL,ONLCRNL": usage errors name the unknown map and the known ones.
    static Expected<ByteMap> parse(std::string_view spec);
    static const std::vector<std::string>& names();
    bool maps_input() const { return in_ != 0; }
    bool maps_output() const { return out_ != 0; }
    /// The bytes with the input (received) maps applied.
    std::string input(std::string_view bytes) const;
    /// The bytes with the output (sent) maps applied.
    std::string output(std::string_view bytes) const;

  private:
    unsigned in_ = 0, out_ = 0;
};

} // namespace m2m
