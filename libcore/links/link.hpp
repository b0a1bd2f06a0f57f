#pragma once
// A link is a point-to-point byte stream: serial port, pty, TCP/UDP socket, file or stdio.
// Links are non-blocking and pollable; the event loop drives them.
#include "links/uri.hpp"
#include "util/error.hpp"
#include <memory>
#include <string>

namespace m2m {

enum class ReadStatus {
    data,        // bytes were appended
    would_block, // nothing now; poll again
    eof,         // the input ended (files, stdin): the run is done
    lost,        // the device or peer went away: reconnect or fail
};

struct ReadResult {
    ReadStatus status;
    std::string why; // for lost
};

/// Which ways a tool uses the link (a file opens for reading or for writing).
enum class LinkRole { read, write, both };

class Link {
  public:
    virtual ~Link() = default;
    /// Opens or reopens. Exit::unavailable when the device or peer is not there.
    virtual Status open() = 0;
    virtual void close() = 0;
    /// The descriptor to poll, or -1 while closed.
    virtual int fd() const = 0;
    /// Appends what can be read now (up to `max` bytes) to `out`.
    virtual ReadResult read(std::string& out, size_t max = 65536) = 0;
    /// Writes what it can; 0 when it would block. An error means the link is lost.
    virtual Expected<size_t> write(std::string_view bytes) = 0;
    /// Waits until written bytes have left the port (serial ports); a no-op elsewhere.
    virtual void drain() {}
    /// Bytes written but not yet taken by the other end (tty and socket queues), 0 if unknown.
    virtual size_t pending_out() const { return 0; }
    /// How many readings of pending_out() == 0 in a row, 10 ms apart, mean the other end has
    /// everything (a pty hands bytes over asynchronously, so one reading can come too early).
    virtual int quiet_readings() const { return 1; }
    /// Whether each write is one datagram (so one frame per write).
    virtual bool datagram() const { return false; }
    /// Whether a lost link can come back (a device replugged, a peer reconnecting).
    virtual bool reconnectable() const { return true; }
    /// The terminal device whose line settings the link has (serial ports, ptys), or -1.
    virtual int tty_fd() const { return -1; }
    /// The endpoint as records name it in `src`.
    const std::string& name() const { return name_; }

  protected:
    std::string name_;
};

Expected<std::unique_ptr<Link>> open_link(const Uri& uri, LinkRole role);

/// A non-blocking TCP socket listening on tcp-listen://HOST:PORT, for a server with many peers
/// (bridge --modbus-server); the caller accepts and closes.
Expected<int> listen_tcp(const Uri& uri);

} // namespace m2m
