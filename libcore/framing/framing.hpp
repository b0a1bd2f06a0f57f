#pragma once
// Framings turn a byte stream into frames and back (docs/design.md, "Framings"). Codecs are pure:
// bytes and the current time go in, frames come out; no I/O and no clock of their own.
// Decoders are incremental (any split of the stream gives the same frames), resynchronise after
// garbage, and count every byte they drop, by cause.
#include "util/error.hpp"
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

struct Frame {
    std::string bytes;
    std::string err;           // why the frame is suspect (cut overlong, CRC mismatch); empty when good
    std::string view_key = {}; // a decoder's structured view beside the payload ("modbus", "nmea")
    std::string view = {};     // ... as a JSON object; empty when none
};

/// The frames a feed completed, in order. The slots and their strings outlive clear(), so a
/// steady stream of frames costs no allocation per frame: a decoder copies each frame into a slot
/// whose buffer the last batch left (#18).
class Frames {
  public:
    /// A slot at the end, its strings empty (their capacity kept).
    Frame& add();
    void push_back(Frame f) { add() = std::move(f); }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    /// Forgets the frames, keeps the slots.
    void clear() { n_ = 0; }
    Frame& operator[](size_t i) { return slots_[i]; }
    const Frame& operator[](size_t i) const { return slots_[i]; }
    Frame& front() { return slots_[0]; }
    Frame& back() { return slots_[n_ - 1]; }
    Frame* begin() { return slots_.data(); }
    Frame* end() { return slots_.data() + n_; }
    const Frame* begin() const { return slots_.data(); }
    const Frame* end() const { return slots_.data() + n_; }

  private:
    std::vector<Frame> slots_;
    size_t n_ = 0;
};

struct DecoderStats {
    uint64_t frames = 0;
    uint64_t bytes = 0;                            // bytes fed in
    std::map<std::string, uint64_t> drops;         // cause -> times something was dropped
    std::map<std::string, uint64_t> dropped_bytes; // cause -> bytes dropped
    uint64_t total_drops() const;
};

class Decoder {
  public:
    explicit Decoder(size_t max_frame) : max_frame_(max_frame) {}
    virtual ~Decoder() = default;
    /// Bytes received at monotonic time `now_us`; frames they complete are appended to `out`.
    void feed(std::string_view bytes, int64_t now_us, Frames& out);
    /// Time-based framings emit the frame a silence has completed; others do nothing.
    virtual void tick(int64_t /*now_us*/, Frames& /*out*/) {}
    /// When tick() could next emit a frame (monotonic µs), or -1.
    virtual int64_t deadline() const { return -1; }
    /// The payload of a request this side just sent, for decoders that read the reply in its light
    /// (a Modbus coil response carries whole bytes; the request says how many bits are meant).
    virtual void sent(std::string_view /*payload*/) {}
    /// End of stream: emits or drops (as "truncated") what is buffered.
    virtual void finish(Frames& out) = 0;
    const DecoderStats& stats() const { return stats_; }

  protected:
    virtual void do_feed(std::string_view bytes, int64_t now_us, Frames& out) = 0;
    /// Emits a frame: its bytes are copied into a slot of `out` and `bytes` is left empty, its
    /// capacity kept for the next frame.
    void emit(Frames& out, std::string&& bytes, std::string_view err = {});
    void emit_view(Frames& out, std::string&& bytes, std::string_view err, const char* key,
                   std::string_view view);
    void drop(const std::string& cause, uint64_t nbytes);
    /// Emits the first max_frame bytes of an overlong frame, marked, and counts the rest dropped.
    void emit_cut(Frames& out, std::string&& bytes, uint64_t rest);
    size_t max_frame_;
    DecoderStats stats_;
};

class Encoder {
  public:
    virtual ~Encoder() = default;
    /// Appends the framed payload to `out`; an error says why the payload cannot be framed.
    virtual Status encode(std::string_view payload, std::string& out) = 0;
};

/// Which side's frames a decoder reads, where the bytes alone are ambiguous (Modbus requests and
/// responses): a master reads responses, a simulated device reads requests, a sniffer both.
enum class Expect { any, requests, responses };

/// Whether a line is an AT final result code for failure (ERROR, +CME ERROR: n, +CMS ERROR: n, NO
/// CARRIER, BUSY, NO ANSWER, NO DIALTONE), case as the modem sends it; trailing CR/LF/space ignored.
bool at_failure_code(std::string_view line);

struct FramingOptions {
    size_t max_frame = 65536;
    Expect expect = Expect::any;
};

/// A parsed --framing spec: its canonical name and factories for fresh codecs.
struct Framing {
    std::string name;
    std::function<std::unique_ptr<Decoder>()> decoder;
    std::function<std::unique_ptr<Encoder>()> encoder;
    /// Framings with a structured view ("modbus", "nmea") build a payload from it, so a record can
    /// carry the view instead of the bytes: {"modbus":{"unit":1,"fc":3,"addr":0,"count":2}}.
    std::string view_key = {};
    std::function<Expected<std::string>(std::string_view view_json)> from_view = {};
};

using FramingFactory = std::function<Expected<Framing>(std::string_view arg, const FramingOptions&)>;

/// Adds a framing to the registry under `name` (used as `name` or `name:ARG`).
void register_framing(const std::string& name, std::string summary, FramingFactory factory);
/// Parses "slip", "len:u16be", "idle:20" …; unknown names are a usage error with a suggestion.
Expected<Framing> make_framing(std::string_view spec, const FramingOptions& opts = {});
/// Every registered framing with its one-line summary (for --help, man pages, completions).
std::vector<std::pair<std::string, std::string>> framing_catalogue();

} // namespace m2m
