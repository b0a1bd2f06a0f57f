#include "stats/stats.hpp"
#include <fmt/format.h>

namespace m2m {

void RunStats::add_decoder(const DecoderStats& d) {
    for (auto& [cause, n] : d.drops)
        drops[cause] += n;
    for (auto& [cause, n] : d.dropped_bytes)
        dropped_bytes[cause] += n;
}

std::string RunStats::to_json() const {
    auto map_json = [](const std::map<std::string, uint64_t>& m) {
        std::string s = "{";
        for (auto& [k, v] : m)
            s += fmt::format("{}\"{}\":{}", s.size() > 1 ? "," : "", k, v);
        return s + "}";
    };
    std::string mqtt_part;
    if (mqtt)
        mqtt_part =
            fmt::format(R"("published":{},"acked":{},"failed":{},"resent":{},"received":{},"duplicates":{},)",
                        published, acked, failed, resent, received, duplicates);
    return fmt::format(
        "{{\"frames_in\":{},\"bytes_in\":{},\"frames_out\":{},\"bytes_out\":{},\"records_in\":{},"
        "\"records_out\":{},\"bad_records\":{},\"bad_frames\":{},\"replies\":{},\"reply_timeouts\":{},"
        "\"wrong_replies\":{},\"unsolicited\":{},{}"
        "\"reconnects\":{},\"drops\":{},\"dropped_bytes\":{}}}",
        frames_in, bytes_in, frames_out, bytes_out, records_in, records_out, bad_records, bad_frames, replies,
        reply_timeouts, wrong_replies, unsolicited, mqtt_part, reconnects, map_json(drops),
        map_json(dropped_bytes));
}

} // namespace m2m
