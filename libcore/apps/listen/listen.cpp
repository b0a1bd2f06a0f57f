#include "apps/listen/listen.hpp"
#include "links/line_control.hpp"
#include "links/serial.hpp"
#include "records/record.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/link_session.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <unistd.h>

namespace m2m {

namespace {

Expected<Exit> list_ports(const cli::OutputArgs& out) {
    auto ports = list_serial_ports();
    bool table = out.format == "human" || (out.format == "auto" && isatty(STDOUT_FILENO));
    std::string buf;
    if (table) {
        buf +=
            fmt::format("{:<20} {:<9} {:<16} {:<20} {}\n", "PORT", "VID:PID", "SERIAL", "PRODUCT", "BY-ID");
        for (auto& p : ports)
            buf += fmt::format(
                "{:<20} {:<9} {:<16} {:<20} {}\n", p.port, p.vid.empty() ? "-" : p.vid + ":" + p.pid,
                p.serial_number.empty() ? "-" : p.serial_number,
                p.product.empty() ? p.description : p.product, p.by_id.empty() ? "-" : p.by_id);
    } else {
        for (auto& p : ports) {
            Record r;
            r.ts = format_rfc3339(wall_us());
            r.src = "serial:" + p.port;
            auto field = [&](const char* key, const std::string& v) {
                if (v.empty()) return;
                std::string raw;
                append_json_string(raw, v);
                r.extra.push_back({key, raw});
            };
            field("port", p.port);
            field("by_id", p.by_id);
            field("transport", p.transport);
            field("vid", p.vid);
            field("pid", p.pid);
            field("serial_number", p.serial_number);
            field("manufacturer", p.manufacturer);
            field("product", p.product);
            field("description", p.description);
            append_jsonl(buf, r);
        }
    }
    if (ports.empty()) log::note("no serial ports found");
    (void)!::write(STDOUT_FILENO, buf.data(), buf.size());
    return Exit::ok;
}

} // namespace

Expected<Exit> run_listen(const ListenArgs& a) {
    if (a.list) return list_ports(a.output);
    if (!a.records.empty()) return show_records(a);
    if (a.interactive) return run_console(a);
    auto map = ByteMap::parse(a.map);
    if (!map) return std::unexpected(map.error());
    if (map->maps_output())
        return fail(Exit::usage, "--map: the O... maps change what is sent; m2m-listen sends only with -I");
    if (a.link.uri.empty()) return fail(Exit::usage, "a LINK is required (or --list)");
    auto uri = parse_uri(a.link.uri);
    if (!uri) return std::unexpected(uri.error());
    auto framing = make_framing(a.framing.framing, {.max_frame = a.framing.max_frame});
    if (!framing) return std::unexpected(framing.error());
    auto link = open_link(*uri, LinkRole::read);
    if (!link) return std::unexpected(link.error());

    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, a.output, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    LinkSession session(loop, std::move(*link), !a.link.no_reconnect, stats);
    auto decoder = framing->decoder();
    Frames frames;
    int idle_timer = -1;

    auto after_feed = [&] {
        recorder.record(frames, session.link().name());
        recorder.check_drops(decoder->stats());
        if (idle_timer >= 0) loop.cancel(idle_timer), idle_timer = -1;
        if (int64_t at = decoder->deadline(); at >= 0 && !loop.stopped()) {
            idle_timer = loop.at(at, [&] {
                idle_timer = -1;
                decoder->tick(mono_us(), frames);
                recorder.record(frames, session.link().name());
            });
        }
    };
    session.on_data = [&](std::string_view bytes) {
        if (map->maps_input())
            decoder->feed(map->input(bytes), mono_us(), frames);
        else
            decoder->feed(bytes, mono_us(), frames);
        after_feed();
    };
    session.on_eof = [&] {
        decoder->finish(frames);
        after_feed();
        loop.stop(Exit::ok);
    };
    session.on_lost = [&] { // a frame cut by the loss is not completed by the next device's bytes
        decoder->finish(frames);
        after_feed();
        stats.add_decoder(decoder->stats());
        decoder = framing->decoder();
    };
    if (auto st = session.start(); !st) return std::unexpected(st.error());
    recorder.arm_timeout();

    loop.run();
    recorder.flush();
    stats.add_decoder(decoder->stats());
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    auto result = loop.result();
    if (result && *result == Exit::timeout) log::info("timed out after {} frame(s)", stats.frames_in);
    return result;
}

} // namespace m2m
