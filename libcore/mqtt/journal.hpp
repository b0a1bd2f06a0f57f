#pragma once
// --persist: store and forward on disk, for iot-pub and the bridge. One append-only file,
// DIR/journal, of framed records; each is
//     '#' <body length: 8 hex> ' ' <CRC-32 of the body: 8 hex> ' ' <body> '\n'
// with a body of "M" + a message as JSON (id, topic, qos, retain, b64, and MQTT 5 properties as
// "pb64") or "D" + the ids of messages that are done (acknowledged, or dropped and counted),
// separated by spaces. Nothing is ever rewritten in place, so a crash leaves at worst a torn last
// record, which open() detects (length or checksum), counts and cuts off. open() then keeps the
// messages not done, in order, by writing them to a new file and renaming it over the old one
// (rename(2) is atomic: a crash leaves either file, whole). sync() writes the done records of a
// pass and calls fdatasync(2): a message is journaled once append() returned and the next
// sync() did. When everything is done the file is emptied (nothing is then lost by a crash), and
// that needs no write, so a full disk cannot keep a finished journal from being emptied.
//
// When fdatasync runs is --persist-sync: `batch` (the default) once per pass of the event loop,
// for the messages read in that pass; `message` after every message (each write is durable
// before the next line is read, at the cost of one disk flush per message); `off` never (the
// kernel's page cache holds the journal: a crash of the process loses nothing, a power loss or a
// kernel crash may).
#include "mqtt/outbox.hpp"
#include "util/error.hpp"
#include <deque>
#include <string>
#include <vector>

namespace m2m {

enum class JournalSync { batch, message, off };
/// The --persist-sync words; the option's choices make anything else a usage error.
inline JournalSync journal_sync_of(std::string_view word) {
    return word == "message" ? JournalSync::message : word == "off" ? JournalSync::off : JournalSync::batch;
}

class Journal {
  public:
    Journal() = default;
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    /// Opens (or creates) DIR/journal; the messages not done are appended to `pending`, in
    /// order, marked resend, each with its journal id. An error names the directory and why.
    Status open(const std::string& dir, std::deque<OutMsg>& pending);
    bool on() const { return fd_ >= 0; }
    void set_sync(JournalSync mode) { sync_ = mode; }
    /// Records `m` and gives it its journal id (m.jid). False when the write failed (disk full):
    /// the message is then not journaled, and the caller counts it.
    bool append(OutMsg& m);
    /// `jid` is done: it will not be sent again after a restart.
    void done(uint64_t jid);
    /// Writes what done() collected and makes everything durable (fdatasync); empties the file
    /// when nothing is left to send.
    void sync();
    /// Damaged records found at open() (a torn tail from a crash or a full disk).
    uint64_t damaged() const { return damaged_; }
    /// Messages the journal holds that are not done.
    uint64_t live() const { return live_; }
    /// Writes that failed (disk full, I/O error).
    uint64_t write_errors() const { return write_errors_; }

    /// One framed record (for tests): '#' length, CRC-32, body, '\n'.
    static std::string frame(std::string_view body);

  private:
    bool write_record(std::string_view body);
    std::string dir_, path_;
    int fd_ = -1;
    uint64_t next_ = 0, size_ = 0, live_ = 0, damaged_ = 0, write_errors_ = 0;
    std::vector<uint64_t> done_;
    bool dirty_ = false;
    JournalSync sync_ = JournalSync::batch;
};

} // namespace m2m
