// replay --serve-map MAP LINK: a simulated Modbus device (RTU on a pty or serial port, or TCP)
// holding the registers of a register map, for HIL tests. Values start at the map's `value =`
// and change with records on stdin ({"set":{"voltage":231.2}}); faults on command make it fail as
// real devices do: silence, an exception, a bad CRC, a late answer, for N requests or a while.
#include "apps/replay/replay.hpp"
#include "framing/framing.hpp"
#include "links/uri.hpp"
#include "loop/event_loop.hpp"
#include "modbus/modbus.hpp"
#include "regmap/register_map.hpp"
#include "runtime/line_input.hpp"
#include "runtime/link_session.hpp"
#include "stats/stats.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/suggest.hpp"
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <simdjson.h>
#include <unistd.h>

namespace m2m {

namespace {

/// A fault on command: what the device does instead of answering well, and for how long.
struct Fault {
    std::string kind;      // silence, exception, bad_crc, delay ("" = none)
    int code = 4;          // exception code
    int64_t delay_us = 0;  // delay
    int64_t count = -1;    // requests left (-1: not counted)
    int64_t until_us = -1; // or until this time (-1: none)
    int unit = -1;         // only this unit (-1: every unit)
};

class SimDevice {
  public:
    SimDevice(EventLoop& loop, LinkSession& link, const Framing& framing, std::vector<MapDevice> map,
              bool tcp)
        : loop_(loop), link_(link), framing_(framing), decoder_(framing.decoder()),
          encoder_(framing.encoder()), map_(std::move(map)), tcp_(tcp) {
        for (auto& d : map_)
            for (auto& v : d.values) {
                auto regs = modbus::registers_of(v.initial, v.spec); // checked when the map was read
                for (size_t i = 0; regs && i < regs->size(); ++i)
                    cells_[{d.unit, v.fc}][v.addr + static_cast<int>(i)] = (*regs)[i];
            }
    }

    uint64_t answered = 0, faulted = 0, silent = 0, bad_commands = 0;

    void start() {
        link_.on_data = [this](std::string_view b) {
            decoder_->feed(b, mono_us(), frames_);
            handle();
            if (tick_ >= 0) loop_.cancel(tick_), tick_ = -1;
            if (int64_t at = decoder_->deadline(); at >= 0)
                tick_ = loop_.at(at, [this] {
                    tick_ = -1;
                    decoder_->tick(mono_us(), frames_);
                    handle();
                });
        };
        link_.on_writable = [this] { flush(); };
        link_.on_lost = [this] { decoder_ = framing_.decoder(); };
    }

    /// A command line from stdin: {"set":{...},"device":...} or {"fault":...}.
    void command(const std::string& line, uint64_t no) {
        simdjson::dom::parser p;
        simdjson::dom::object o;
        auto bad = [&](const std::string& why) {
            ++bad_commands;
            log::error("stdin line {}: {}", no, why);
        };
        if (p.parse(line).get_object().get(o))
            return bad(R"(expected {"set":{"voltage":231.2}} or {"fault":"silence","count":3})");
        simdjson::dom::object set;
        std::string_view kind;
        if (!o["set"].get_object().get(set)) {
            std::string_view device;
            if (o["device"].get_string().get(device)) device = {};
            for (auto field : set) {
                MapDevice* dev = nullptr;
                MapValue* val = nullptr;
                std::vector<std::string> names;
                for (auto& d : map_)
                    if (device.empty() || d.name == device)
                        for (auto& v : d.values) {
                            names.push_back(v.name);
                            if (v.name == field.key && !val) dev = &d, val = &v;
                        }
                if (!val)
                    return bad(fmt::format("no value '{}' in the map{}", field.key,
                                           did_you_mean(std::string(field.key), names)));
                auto regs = modbus::registers_of(simdjson::minify(field.value), val->spec);
                if (!regs) return bad(fmt::format("'{}': {}", field.key, regs.error().message));
                for (size_t i = 0; i < regs->size(); ++i)
                    cells_[{dev->unit, val->fc}][val->addr + static_cast<int>(i)] = (*regs)[i];
                log::info("{} = {}", field.key, simdjson::minify(field.value));
            }
            return;
        }
        if (o["fault"].get_string().get(kind))
            return bad(
                R"(a command has "set" (values by name) or "fault" (silence, exception, bad_crc, delay, none))");
        Fault f;
        f.kind = kind;
        if (kind == "none") {
            fault_ = {};
            log::info("fault cleared");
            return;
        }
        if (kind != "silence" && kind != "exception" && kind != "bad_crc" && kind != "delay")
            return bad(fmt::format(
                "fault '{}' is not silence, exception, bad_crc, delay or none{}", kind,
                did_you_mean(std::string(kind), {"silence", "exception", "bad_crc", "delay", "none"})));
        int64_t n = 0;
        if (!o["code"].get_int64().get(n)) {
            if (n < 1 || n > 255) return bad("\"code\" is an exception code from 1 to 255");
            f.code = static_cast<int>(n);
        }
        if (!o["unit"].get_int64().get(n)) f.unit = static_cast<int>(n);
        if (!o["count"].get_int64().get(n)) f.count = n;
        std::string_view dur;
        if (!o["for"].get_string().get(dur)) {
            auto d = parse_duration(dur);
            if (!d) return bad("\"for\": " + d.error().message);
            f.until_us = mono_us() + d->count();
        }
        if (!o["delay"].get_string().get(dur)) {
            auto d = parse_duration(dur);
            if (!d) return bad("\"delay\": " + d.error().message);
            f.delay_us = d->count();
        }
        if (kind == "delay" && f.delay_us <= 0) return bad(R"(a delay fault needs "delay": "500ms")");
        fault_ = f;
        log::info("fault {} {}", f.kind,
                  f.count >= 0      ? fmt::format("for {} request(s)", f.count)
                  : f.until_us >= 0 ? fmt::format("for {}", dur)
                                    : std::string("until cleared"));
    }

  private:
    void flush() {
        while (!out_.empty() && link_.up()) {
            size_t n = link_.write(out_);
            if (!n) break;
            out_.erase(0, n);
        }
        link_.want_write(!out_.empty());
    }

    void handle() {
        for (auto& f : frames_) {
            if (!f.err.empty() || f.bytes.size() < 2) continue; // a master retries
            int tid = 0;
            if (tcp_) {
                auto at = f.view.find(R"("tid":)");
                if (at != std::string::npos) tid = std::atoi(f.view.c_str() + at + 6);
            }
            respond(f.bytes, tid);
        }
        frames_.clear();
        flush();
    }

    /// The active fault for a request to `unit`, counted down; nullptr when none applies.
    const Fault* fault_for(int unit) {
        if (fault_.kind.empty()) return nullptr;
        if (fault_.until_us >= 0 && mono_us() >= fault_.until_us) {
            fault_ = {};
            return nullptr;
        }
        if (fault_.unit >= 0 && fault_.unit != unit) return nullptr;
        if (fault_.count == 0) {
            fault_ = {};
            return nullptr;
        }
        if (fault_.count > 0) --fault_.count;
        return &fault_;
    }

    void respond(std::string_view req, int tid) {
        int unit = static_cast<unsigned char>(req[0]), fc = static_cast<unsigned char>(req[1]);
        bool known = false;
        for (auto& d : map_)
            known |= d.unit == unit;
        if (!known && unit != 0) {
            ++silent; // no such unit on the bus
            return;
        }
        std::string pdu = answer(unit, fc, req.substr(2));
        if (unit == 0) return; // broadcast: done, never answered
        Fault f;
        if (auto* fp = fault_for(unit)) f = *fp;
        if (f.kind == "silence") {
            ++faulted;
            return;
        }
        if (f.kind == "exception") pdu = {static_cast<char>(fc | 0x80), static_cast<char>(f.code)};
        std::string adu = static_cast<char>(unit) + pdu, frame;
        if (tcp_) {
            modbus::append_mbap(frame, static_cast<uint16_t>(tid), adu);
        } else if (auto st = encoder_->encode(adu, frame); !st) {
            return;
        }
        if (f.kind == "bad_crc")
            frame.back() = static_cast<char>(frame.back() ^ 0x5A); // TCP: a wrong byte of data
        if (!f.kind.empty()) ++faulted;
        ++answered;
        if (f.kind == "delay") {
            loop_.at(mono_us() + f.delay_us, [this, frame] {
                out_ += frame;
                flush();
            });
            return;
        }
        out_ += frame;
    }

    /// The PDU answering function `fc` with `data` from the registers (exception 2 for an address
    /// the map does not have, 1 for a function the device does not do, 3 for a bad count).
    std::string answer(int unit, int fc, std::string_view data) {
        auto u16 = [&](size_t i) {
            return i + 1 < data.size()
                       ? (static_cast<unsigned char>(data[i]) << 8) | static_cast<unsigned char>(data[i + 1])
                       : -1;
        };
        auto exc = [&](int code) {
            return std::string{static_cast<char>(fc | 0x80), static_cast<char>(code)};
        };
        int addr = u16(0), count = u16(2);
        if (addr < 0) return exc(3);
        auto table = [&](int t) -> std::map<int, uint16_t>* {
            auto it = cells_.find({unit, t});
            return it == cells_.end() ? nullptr : &it->second;
        };
        auto has = [&](int t, int a, int n) {
            auto* c = table(t);
            for (int i = 0; c && i < n; ++i)
                if (!c->contains(a + i)) return false;
            return c != nullptr;
        };
        std::string pdu{static_cast<char>(fc)};
        switch (fc) {
        case 1:
        case 2: {
            if (count < 1 || count > 2000) return exc(3);
            if (!has(fc, addr, count)) return exc(2);
            pdu += static_cast<char>((count + 7) / 8);
            std::string bits(static_cast<size_t>((count + 7) / 8), '\0');
            for (int i = 0; i < count; ++i)
                if ((*table(fc))[addr + i])
                    bits[static_cast<size_t>(i / 8)] |= static_cast<char>(1 << (i % 8));
            return pdu + bits;
        }
        case 3:
        case 4: {
            if (count < 1 || count > 125) return exc(3);
            if (!has(fc, addr, count)) return exc(2);
            pdu += static_cast<char>(count * 2);
            for (int i = 0; i < count; ++i) {
                uint16_t r = (*table(fc))[addr + i];
                pdu += static_cast<char>(r >> 8), pdu += static_cast<char>(r & 0xFF);
            }
            return pdu;
        }
        case 5:
            if (count != 0xFF00 && count != 0) return exc(3);
            if (!has(1, addr, 1)) return exc(2);
            (*table(1))[addr] = count ? 1 : 0;
            return pdu + std::string(data.substr(0, 4));
        case 6:
            if (count < 0) return exc(3);
            if (!has(3, addr, 1)) return exc(2);
            (*table(3))[addr] = static_cast<uint16_t>(count);
            return pdu + std::string(data.substr(0, 4));
        case 15:
        case 16: {
            int bytes = data.size() > 4 ? static_cast<unsigned char>(data[4]) : -1;
            int need = fc == 15 ? (count + 7) / 8 : count * 2;
            if (count < 1 || bytes != need || data.size() < static_cast<size_t>(5 + bytes)) return exc(3);
            int t = fc == 15 ? 1 : 3;
            if (!has(t, addr, count)) return exc(2);
            for (int i = 0; i < count; ++i)
                (*table(t))[addr + i] =
                    fc == 15
                        ? (static_cast<unsigned char>(data[5 + static_cast<size_t>(i / 8)]) >> (i % 8)) & 1
                        : static_cast<uint16_t>(u16(5 + 2 * static_cast<size_t>(i)));
            return pdu + std::string(data.substr(0, 4));
        }
        default:
            return exc(1);
        }
    }

    EventLoop& loop_;
    LinkSession& link_;
    const Framing& framing_;
    std::unique_ptr<Decoder> decoder_;
    std::unique_ptr<Encoder> encoder_;
    std::vector<MapDevice> map_;
    bool tcp_;
    std::map<std::pair<int, int>, std::map<int, uint16_t>> cells_; // (unit, fc table) -> address -> register
    Fault fault_;
    Frames frames_;
    std::string out_;
    int tick_ = -1;
};

} // namespace

Expected<Exit> serve_map(const ReplayArgs& a, const std::string& target) {
    auto map = load_map(a.serve_map, 1000000);
    if (!map) return std::unexpected(map.error());
    auto uri = parse_uri(target);
    if (!uri) return std::unexpected(uri.error());
    auto framing =
        make_framing(a.framing.framing, {.max_frame = a.framing.max_frame, .expect = Expect::requests});
    if (!framing) return std::unexpected(framing.error());
    if (framing->view_key != "modbus")
        return fail(Exit::usage, "--serve-map answers Modbus: use --framing modbus-rtu or modbus-tcp");
    auto link = open_link(*uri, LinkRole::both);
    if (!link) return std::unexpected(link.error());
    EventLoop loop;
    RunStats stats;
    LinkSession session(loop, std::move(*link), true, stats);
    SimDevice dev(loop, session, *framing, std::move(*map), framing->name.starts_with("modbus-tcp"));
    dev.start();
    // commands on stdin, one JSON object per line; the end of stdin leaves the device serving
    LineInput input(a.max_line, [](const std::string& why) { log::error("stdin: {}", why); });
    int flags = ::fcntl(STDIN_FILENO, F_GETFL);
    int watch = -1;
    if (flags >= 0) {
        watch = loop.watch(STDIN_FILENO, POLLIN, [&](short) {
            input.read_from(STDIN_FILENO);
            std::string line;
            while (input.next_line(line))
                if (!line.empty()) dev.command(line, input.line_no());
            if (input.exhausted()) loop.unwatch(watch);
        });
    }
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    log::info("serving the register map {} on {}", a.serve_map, session.link().name());
    Exit code = loop.run();
    if (a.common.stats)
        log::write("",
                   fmt::format(R"(stats: {{"answered":{},"faulted":{},"other_units":{},"bad_commands":{}}})",
                               dev.answered, dev.faulted, dev.silent, dev.bad_commands));
    return code;
}

} // namespace m2m
