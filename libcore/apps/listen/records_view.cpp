// m2m-listen --records: a capture (or any record stream on stdin) in the human view again. Each
// record is shown at the time it carries, so the screen is the one the live session printed.
#include "apps/listen/listen.hpp"
#include "records/parser.hpp"
#include "runtime/frame_records.hpp"
#include "runtime/line_input.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace m2m {

Expected<Exit> show_records(const ListenArgs& a) {
    if (!a.link.uri.empty())
        return fail(Exit::usage,
                    fmt::format("--records shows a file; a LINK ('{}') does not go with it", a.link.uri));
    bool from_stdin = a.records == "-";
    int fd = from_stdin ? STDIN_FILENO : ::open(a.records.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(Exit::unavailable, fmt::format("cannot read '{}': {}", a.records, std::strerror(errno)));
    struct Closer {
        int fd;
        bool owned;
        ~Closer() {
            if (owned) ::close(fd);
        }
    } closer{fd, !from_stdin};
    std::string name = from_stdin ? "stdin" : a.records;

    EventLoop loop;
    RunStats stats;
    FrameRecorder recorder(loop, stats, a.output, a.limits, a.common.strict);
    if (auto st = recorder.init(); !st) return std::unexpected(st.error());
    recorder.keep_seq(true);
    LineInput input(a.framing.max_frame, [&](const std::string& why) {
        ++stats.bad_records;
        log::warn("{}:{}: {}; skipped (counted as bad_records)", name, input.line_no(), why);
    });
    RecordParser parser;
    Record r;
    std::string line;
    auto take = [&] {
        while (!loop.stopped() && input.next_line(line)) {
            if (line.empty()) continue;
            ++stats.records_in;
            if (auto st = parser.parse(line, r); !st) {
                ++stats.bad_records;
                if (a.common.strict)
                    return loop.fail(Exit::bad_data,
                                     fmt::format("{}:{}: {}", name, input.line_no(), st.error().message));
                log::warn("{}:{}: {}; skipped (counted as bad_records)", name, input.line_no(),
                          st.error().message);
                continue;
            }
            auto ts = r.ts.empty() ? std::nullopt : parse_rfc3339(r.ts);
            recorder.emit(r, ts ? *ts : wall_us());
        }
        recorder.flush();
        if (input.exhausted() && !loop.stopped()) loop.stop(Exit::ok);
    };
    int watch = loop.watch(fd, POLLIN, [&](short) {
        input.read_from(fd);
        take();
    });
    recorder.arm_timeout();
    loop.run();
    loop.unwatch(watch);
    recorder.flush();
    if (a.common.stats) log::write("", "stats: " + stats.to_json());
    auto result = loop.result();
    if (result && *result == Exit::timeout) log::info("timed out after {} record(s)", stats.records_out);
    return result;
}

} // namespace m2m
