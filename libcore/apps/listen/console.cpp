// m2m-listen -I: the field console. What arrives is shown as m2m-listen shows it (the human view,
// frames decoded); what is typed goes out through the framing's encoder, a line at a time with
// editing and history, or each keystroke as it is typed (--keys). A menu key (Ctrl-T, as tio)
// reaches the line controls and the view. The terminal is given back as it was on every way out.
#include "apps/listen/listen.hpp"
#include "console/keys.hpp"
#include "console/line_editor.hpp"
#include "console/terminal.hpp"
#include "links/line_control.hpp"
#include "links/serial.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/link_session.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <charconv>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace m2m {

namespace {

using console::Key;
using console::LineEditor;

constexpr size_t max_unsent = 1 << 16; // typed while the link is away: kept up to this, then counted
constexpr int64_t pulse_us = 100000;
constexpr int64_t break_us = 250000;

const char* menu_help[] = {
    "?  this help",
    "q  quit",
    "b  send a break (250 ms)",
    "d  toggle DTR          D  pulse DTR (100 ms)",
    "r  toggle RTS          R  pulse RTS (100 ms)",
    "l  show the line: baud, DTR, RTS, CTS, DSR, CD",
    "B  change the baud rate",
    "x  toggle the hex view",
    "t  timestamps: UTC, local time, delta, none",
    "e  toggle local echo (what is sent, shown as tx)",
    "c  clear the screen",
    "the menu key twice sends it to the device",
};

class Console {
  public:
    Console(const ListenArgs& a, EventLoop& loop, RunStats& stats, FrameRecorder& recorder,
            LinkSession& session, const Framing& framing, ByteMap map, char menu)
        : a_(a), loop_(loop), stats_(stats), recorder_(recorder), session_(session), framing_(framing),
          map_(map), menu_(menu), echo_(!a.keys) {
        encoder_ = framing_.encoder();
        decoder_ = framing_.decoder();
        color_ = recorder_.printer().options().color;
    }
    ~Console() {
        log::set_sink({});
        if (stdin_watch_ >= 0) loop_.unwatch(stdin_watch_);
    }

    void start() {
        log::set_sink([this](std::string_view line) { notice(line); });
        session_.on_data = [this](std::string_view bytes) {
            if (map_.maps_input())
                decoder_->feed(map_.input(bytes), mono_us(), frames_);
            else
                decoder_->feed(bytes, mono_us(), frames_);
            after_feed();
        };
        session_.on_eof = [this] {
            decoder_->finish(frames_);
            after_feed();
            loop_.stop(Exit::ok);
        };
        session_.on_lost = [this] {
            decoder_->finish(frames_);
            after_feed();
            stats_.add_decoder(decoder_->stats());
            decoder_ = framing_.decoder();
        };
        session_.on_up = [this] { flush_out(); };
        session_.on_writable = [this] { flush_out(); };
        stdin_watch_ = loop_.watch(STDIN_FILENO, POLLIN, [this](short) { typed(); });
        notice(fmt::format("console on {} ({} framing{}): {} ? for the menu, {} q to quit",
                           session_.link().name(), framing_.name, a_.keys ? ", keys sent as typed" : "",
                           key_name(), key_name()));
    }

    void finish() {
        hide();
        decoder_->finish(frames_);
        if (!frames_.empty()) recorder_.record(frames_, session_.link().name());
        stats_.add_decoder(decoder_->stats());
    }

  private:
    std::string key_name() const { return fmt::format("Ctrl-{}", static_cast<char>('A' + menu_ - 1)); }

    bool line_mode() const { return !a_.keys || baud_prompt_; }

    void put(std::string_view s) {
        while (!s.empty()) {
            ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
            if (n <= 0) return;
            s.remove_prefix(static_cast<size_t>(n));
        }
    }

    /// Takes the input line off the screen, so records print above it.
    void hide() {
        if (prompt_shown_) put("\r\x1b[K");
        prompt_shown_ = false;
    }
    /// Draws the input line with the cursor in place.
    void show() {
        if (!line_mode() || loop_.stopped()) return;
        std::string prompt = baud_prompt_ ? "baud> " : "> ";
        std::string s = "\r\x1b[K";
        s += color_ ? "\x1b[1m" + prompt + "\x1b[0m" : prompt;
        s += editor_.text();
        size_t col = prompt.size() + editor_.cursor_column();
        s += fmt::format("\r\x1b[{}C", col);
        put(s);
        prompt_shown_ = true;
    }

    void notice(std::string_view text) {
        hide();
        std::string line =
            color_ ? fmt::format("\x1b[2;33m-- {}\x1b[0m\n", text) : fmt::format("-- {}\n", text);
        put(line);
        show();
    }

    void after_feed() {
        hide();
        recorder_.record(frames_, session_.link().name());
        recorder_.check_drops(decoder_->stats());
        if (idle_timer_ >= 0) loop_.cancel(idle_timer_), idle_timer_ = -1;
        if (int64_t at = decoder_->deadline(); at >= 0 && !loop_.stopped()) {
            idle_timer_ = loop_.at(at, [this] {
                idle_timer_ = -1;
                decoder_->tick(mono_us(), frames_);
                hide();
                recorder_.record(frames_, session_.link().name());
                show();
            });
        }
        show();
    }

    /// Sends bytes as they are (after the output maps) and shows / logs them as one tx record.
    void send(std::string_view payload, std::string_view wire) {
        std::string mapped = map_.maps_output() ? map_.output(wire) : std::string(wire);
        if (out_.size() + mapped.size() > max_unsent) {
            ++stats_.drops["console_unsent"];
            return notice(fmt::format("{} bytes not sent: the link is away and {} bytes already wait",
                                      mapped.size(), out_.size()));
        }
        out_ += mapped;
        ++stats_.frames_out;
        Record r;
        int64_t now = wall_us();
        r.ts = format_rfc3339(now);
        r.src = session_.link().name();
        r.dir = "tx";
        set_payload(r, std::string(payload), recorder_.style());
        hide();
        if (echo_)
            recorder_.emit(r, now, false);
        else
            recorder_.record_only(r, now);
        recorder_.flush();
        show();
        flush_out();
    }

    void flush_out() {
        while (!out_.empty() && session_.up()) {
            size_t n = session_.write(out_);
            if (!n) break;
            out_.erase(0, n);
        }
        session_.want_write(!out_.empty() && session_.up());
    }

    void typed() {
        char buf[4096];
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) { // the terminal went away
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
            return loop_.stop(Exit::ok);
        }
        std::string_view in(buf, static_cast<size_t>(n));
        if (!line_mode()) return typed_keys(in);
        keys_.clear();
        decoder_keys_.feed(in, keys_);
        for (auto& k : keys_) {
            if (loop_.stopped()) return;
            if (menu_pending_) {
                menu_pending_ = false;
                menu(k.kind == Key::ctrl   ? static_cast<char>(k.letter - 'a' + 1)
                     : k.kind == Key::text ? k.bytes[0]
                                           : 0);
                continue;
            }
            if (k.kind == Key::ctrl && k.letter - 'a' + 1 == menu_) {
                menu_pending_ = true;
                continue;
            }
            edit(k);
            if (!line_mode()) return; // the baud prompt ended (--keys): keys typed ahead with it are dropped
        }
    }

    /// --keys: each byte goes out as typed, the menu key and its command excepted.
    void typed_keys(std::string_view in) {
        std::string chunk;
        for (size_t i = 0; i < in.size(); ++i) {
            char c = in[i];
            if (menu_pending_) {
                menu_pending_ = false;
                if (!chunk.empty()) send(chunk, chunk), chunk.clear();
                menu(c);
                if (line_mode()) { // B opened the baud prompt: the rest is its input
                    keys_.clear();
                    decoder_keys_.feed(in.substr(i + 1), keys_);
                    for (auto& k : keys_)
                        edit(k);
                    return;
                }
                continue;
            }
            if (c == menu_) {
                menu_pending_ = true;
                continue;
            }
            chunk += c;
        }
        if (!chunk.empty()) send(chunk, chunk);
    }

    void edit(const Key& k) {
        switch (editor_.key(k)) {
        case LineEditor::Result::none:
            return;
        case LineEditor::Result::changed:
            return show();
        case LineEditor::Result::clear_screen:
            put("\x1b[H\x1b[2J");
            prompt_shown_ = false;
            return show();
        case LineEditor::Result::interrupt:
            if (baud_prompt_ || !editor_.text().empty()) { // Ctrl-C drops the line, as a shell does
                editor_.clear();
                baud_prompt_ = false;
                return show();
            }
            hide();
            return loop_.stop(Exit::interrupted);
        case LineEditor::Result::end:
            if (baud_prompt_) {
                baud_prompt_ = false;
                return show();
            }
            hide();
            return loop_.stop(Exit::ok);
        case LineEditor::Result::submit:
            break;
        }
        std::string line = editor_.take();
        if (baud_prompt_) {
            baud_prompt_ = false;
            hide();
            return set_baud(line);
        }
        auto bytes = console::unescape_line(line);
        if (!bytes) return notice(fmt::format("not sent: {}", bytes.error().message));
        std::string wire;
        if (auto st = encoder_->encode(*bytes, wire); !st)
            return notice(fmt::format("not sent: {}", st.error().message));
        send(*bytes, wire);
    }

    int tty() {
        int fd = session_.up() ? session_.link().tty_fd() : -1;
        if (fd < 0)
            notice(session_.up() ? fmt::format("{} is not a serial line", session_.link().name())
                                 : "the link is away");
        return fd;
    }

    void set_baud(const std::string& text) {
        int baud = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), baud);
        if (text.empty()) return show();
        if (ec != std::errc() || end != text.data() + text.size() || baud <= 0)
            return notice(fmt::format("baud '{}': a positive number, as 115200 or 74880", text));
        int fd = tty();
        if (fd < 0) return;
        if (auto st = set_tty_baud(fd, baud); !st) return notice(st.error().message);
        notice(fmt::format("baud {}", baud));
    }

    void toggle(int line, const char* name) {
        int fd = tty();
        if (fd < 0) return;
        int now = modem_lines(fd);
        if (now < 0) return notice(fmt::format("{} has no modem lines", session_.link().name()));
        bool up = !(now & line);
        if (auto st = run_line_steps(fd, {{up ? LineStep::raise : LineStep::drop, line, 0}},
                                     session_.link().name());
            !st)
            return notice(st.error().message);
        notice(fmt::format("{} {}", name, up ? "on" : "off"));
    }

    void pulse(const char* spec, const char* name) {
        int fd = tty();
        if (fd < 0) return;
        int now = modem_lines(fd);
        if (now < 0) return notice(fmt::format("{} has no modem lines", session_.link().name()));
        auto plan = pulse_plan(spec, now);
        if (auto st = run_line_steps(fd, *plan, session_.link().name()); !st)
            return notice(st.error().message);
        notice(fmt::format("{} pulsed for {} ms", name, pulse_us / 1000));
    }

    void line_status() {
        int fd = tty();
        if (fd < 0) return;
        int bits = modem_lines(fd);
        std::string lines = "no modem lines";
        if (bits >= 0)
            lines = fmt::format("DTR {} RTS {} CTS {} DSR {} CD {} RI {}", bits & TIOCM_DTR ? "on" : "off",
                                bits & TIOCM_RTS ? "on" : "off", bits & TIOCM_CTS ? "on" : "off",
                                bits & TIOCM_DSR ? "on" : "off", bits & TIOCM_CD ? "on" : "off",
                                bits & TIOCM_RI ? "on" : "off");
        notice(fmt::format("{}: baud {}, {}", session_.link().name(), current_baud(fd), lines));
    }

    void menu(char c) {
        auto& view = recorder_.printer().options();
        switch (c) {
        case '?':
        case 'h':
            for (auto* line : menu_help)
                notice(fmt::format("{} {}", key_name(), line));
            return;
        case 'q':
            hide();
            return loop_.stop(Exit::ok);
        case 'b': {
            int fd = tty();
            if (fd < 0) return;
            if (auto st = send_break(fd, break_us, session_.link().name()); !st)
                return notice(st.error().message);
            return notice("break sent (250 ms)");
        }
        case 'd':
            return toggle(TIOCM_DTR, "DTR");
        case 'r':
            return toggle(TIOCM_RTS, "RTS");
        case 'D':
            return pulse("dtr:100ms", "DTR");
        case 'R':
            return pulse("rts:100ms", "RTS");
        case 'l':
            return line_status();
        case 'B':
            baud_prompt_ = true;
            editor_.clear();
            return show();
        case 'x':
            view.hexdump = !view.hexdump;
            return notice(view.hexdump ? "hex view on" : "hex view off");
        case 't': {
            static const std::pair<TsMode, const char*> cycle[] = {
                {TsMode::iso, "timestamps in UTC"},
                {TsMode::local, "timestamps in local time"},
                {TsMode::delta, "timestamps as delta"},
                {TsMode::none, "no timestamps"}};
            size_t i = 0;
            while (i < std::size(cycle) && cycle[i].first != view.ts)
                ++i;
            auto& next = cycle[(i + 1) % std::size(cycle)];
            view.ts = next.first;
            return notice(next.second);
        }
        case 'e':
            echo_ = !echo_;
            return notice(echo_ ? "local echo on" : "local echo off");
        case 'c':
            put("\x1b[H\x1b[2J");
            prompt_shown_ = false;
            return show();
        default:
            if (c == menu_) {
                std::string one(1, c);
                return send(one, one);
            }
            return notice(fmt::format("no menu command '{}'; {} ? lists them",
                                      c >= 0x20 && c < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", c),
                                      key_name()));
        }
    }

    const ListenArgs& a_;
    EventLoop& loop_;
    RunStats& stats_;
    FrameRecorder& recorder_;
    LinkSession& session_;
    const Framing& framing_;
    ByteMap map_;
    char menu_;
    bool echo_;
    bool color_ = false;
    std::unique_ptr<Encoder> encoder_;
    std::unique_ptr<Decoder> decoder_;
    Frames frames_;
    int idle_timer_ = -1;
    int stdin_watch_ = -1;
    console::KeyDecoder decoder_keys_;
    std::vector<Key> keys_;
    LineEditor editor_;
    bool prompt_shown_ = false, menu_pending_ = false, baud_prompt_ = false;
    std::string out_;
};

} // namespace

Expected<Exit> run_console(const ListenArgs& a) {
    if (a.link.uri.empty()) return fail(Exit::usage, "-I needs a LINK to talk to");
    char menu = console::control_byte(a.menu_key);
    if (!menu)
        return fail(Exit::usage, fmt::format("--menu-key '{}': a control key, as ctrl-t or ^A", a.menu_key));
    auto map = ByteMap::parse(a.map);
    if (!map) return std::unexpected(map.error());
    auto uri = parse_uri(a.link.uri);
    if (!uri) return std::unexpected(uri.error());
    auto framing = make_framing(a.framing.framing, {.max_frame = a.framing.max_frame});
    if (!framing) return std::unexpected(framing.error());
    console::RawTerminal term;
    if (!isatty(STDIN_FILENO))
        return fail(Exit::usage, "-I is the console: it needs a terminal on stdin (pipe records into "
                                 "m2m-send to script a device)");
    auto link = open_link(*uri, LinkRole::both);
    if (!link) return std::unexpected(link.error());

    cli::OutputArgs out = a.output;
    if (out.format == "auto") out.format = "human"; // the screen is the console's
    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, out, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    LinkSession session(loop, std::move(*link), !a.link.no_reconnect, stats);
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    if (auto st = term.enter(STDIN_FILENO); !st) return std::unexpected(st.error());
    {
        Console con(a, loop, stats, recorder, session, *framing, *map, menu);
        con.start();
        recorder.arm_timeout();
        loop.run();
        con.finish();
        recorder.flush();
    }
    term.restore();
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    return loop.result();
}

} // namespace m2m
