#pragma once
// What the tools that print records share (m2m-listen, m2m-send --reply, iot-sub, iot-pub --rr):
// turning decoded frames or arrived messages into records on stdout, with --count / --until /
// --strict applied.
#include "cli/options.hpp"
#include "framing/framing.hpp"
#include "loop/event_loop.hpp"
#include "output/printer.hpp"
#include "stats/stats.hpp"
#include <optional>
#include <regex>

namespace m2m {

/// The record of a frame received from `src` at `now_wall_us` (ts, src, dir rx, payload in
/// `style`, err, and the framing's view); the frame's bytes and err are swapped with the record's.
void frame_to_record(Frame& f, const std::string& src, PayloadStyle style, int64_t now_wall_us, Record& r);
/// The same with the time already formatted (RFC 3339): the frames of one read share it.
void frame_to_record(Frame& f, const std::string& src, PayloadStyle style, std::string_view ts, Record& r);

/// --set KEY=VALUE arguments as record fields (VALUE as JSON when it reads as a JSON scalar, else a
/// string); usage errors name the argument. The fields m2mkit writes itself are refused.
Expected<std::vector<ExtraField>> parse_set_fields(const std::vector<std::string>& args);
/// Adds the fields to the record, replacing any of the same name.
void apply_set_fields(const std::vector<ExtraField>& set, Record& r);

class FrameRecorder {
  public:
    FrameRecorder(EventLoop& loop, RunStats& stats, const cli::OutputArgs& out, const cli::LimitArgs& limits,
                  bool strict);
    ~FrameRecorder();
    FrameRecorder(const FrameRecorder&) = delete;
    FrameRecorder& operator=(const FrameRecorder&) = delete;
    /// The screen's printer (the console changes its view while it runs).
    Printer& printer() { return printer_; }
    /// Validates the output and limit options (usage errors) before anything opens.
    Status init();
    /// Prints the frames as records from `src`; stops the loop at --count, --until or a strict error.
    /// `extra` fields (raw JSON values) are added to each record: reply_to, unsolicited, name.
    void record(Frames& frames, const std::string& src, const std::vector<ExtraField>& extra = {});
    /// Prints one record built by the caller (seq is set here), with the same limits applied.
    /// `counts` = false: shown and logged, but not counted for --count / --until (what the console
    /// sends).
    void emit(Record& r, int64_t now_wall_us, bool counts = true);
    /// Whether only the payload is printed and nothing needs the record (--format raw, no
    /// --until): a message's payload can then go out through emit_payload, with no record built.
    bool bare() const { return printer_.bare() && !until_ && !logging(); }
    /// Records that already have a seq keep it (m2m-listen --records shows saved records again).
    void keep_seq(bool on) { keep_seq_ = on; }
    /// Numbers the record and writes it to the --log file only (what the console sends with local
    /// echo off).
    void record_only(Record& r, int64_t now_wall_us);
    /// Whether --log is writing records to a file.
    bool logging() const { return log_.has_value(); }
    /// Writes a record to the --log file only: iot-sub -F prints its own line for it, m2m-send logs
    /// what it sent (a record without seq gets the one the next emit gets).
    void log_only(Record& r, int64_t now_wall_us);
    /// Prints a bare payload (see bare()), with the same count and limits as emit().
    void emit_payload(std::string_view payload);
    /// Output already formatted (iot-sub -F), counted as a record.
    void emit_formatted(std::string_view bytes);
    /// How --payload asked payloads to be shown.
    PayloadStyle style() const { return style_; }
    /// Stops the loop if the decoder dropped bytes under --strict.
    void check_drops(const DecoderStats& d);
    /// Writes out what is buffered; a closed pipe stops the loop with exit 0.
    void flush();
    /// Arms --timeout (exit 124).
    void arm_timeout();

  private:
    EventLoop& loop_;
    RunStats& stats_;
    const cli::OutputArgs& out_args_;
    const cli::LimitArgs& limits_;
    bool strict_;
    Printer printer_{1, {}};
    std::optional<Printer> log_;
    int log_fd_ = -1;
    PayloadStyle style_ = PayloadStyle::auto_;
    std::optional<std::regex> until_;
    int64_t timeout_us_ = 0;
    uint64_t seq_ = 0;
    bool keep_seq_ = false;
    uint64_t drops_seen_ = 0;
    Record rec_;                  // the record of each frame record() prints
    std::vector<ExtraField> set_; // --set: added to every record, over a field of the same name
};

} // namespace m2m
