// replay's recordings, read line by line with every bad line named.
#include "apps/replay/recording.hpp"
#include "records/parser.hpp"
#include "runtime/line_input.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

namespace m2m::replay {

bool is_target(const std::string& s) {
    return s == "-" || s.find("://") != std::string::npos || s.rfind("serial:", 0) == 0 ||
           s.rfind("pty:", 0) == 0 || s.rfind("file:", 0) == 0;
}

Expected<std::vector<Item>> load(const ReplayArgs& a, const std::vector<std::string>& files, uint64_t& bad) {
    std::vector<Item> items;
    RecordParser parser;
    for (auto& f : files) {
        int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(Exit::unavailable, fmt::format("cannot read '{}': {}", f, std::strerror(errno)));
        std::optional<Error> fatal;
        auto reject = [&](uint64_t no, const std::string& why) {
            ++bad;
            if (a.common.strict) {
                fatal = Error{Exit::bad_data, fmt::format("{}:{}: {}", f, no, why)};
                return false;
            }
            log::warn("{}:{}: {}; skipped (counted as bad_records)", f, no, why);
            return true;
        };
        bool read = for_each_line(
            fd, a.max_line, [&](uint64_t no, const std::string& why) { reject(no, why); },
            [&](std::string& line, uint64_t no) {
                if (fatal) return false;
                if (line.empty()) return true;
                Item it;
                if (a.raw) {
                    it.payload = line;
                    if (a.ts_column > 0) {
                        size_t start = 0;
                        for (int c = 1; c < a.ts_column && start != std::string::npos; ++c) {
                            start = line.find(',', start);
                            if (start != std::string::npos) ++start;
                        }
                        if (start == std::string::npos)
                            return reject(no, fmt::format("no column {}", a.ts_column));
                        std::string cell = line.substr(start, line.find(',', start) - start);
                        if (auto t = parse_rfc3339(cell)) {
                            it.ts = *t;
                        } else {
                            char* end = nullptr;
                            double secs = std::strtod(cell.c_str(), &end);
                            if (cell.empty() || *end || !std::isfinite(secs))
                                return reject(
                                    no, fmt::format("column {} ('{}') is not a time", a.ts_column, cell));
                            it.ts = static_cast<int64_t>(std::llround(secs * 1e6));
                        }
                    }
                } else {
                    if (auto st = parser.parse(line, it.rec); !st) return reject(no, st.error().message);
                    if (!it.rec.ts.empty()) {
                        auto t = parse_rfc3339(it.rec.ts);
                        if (!t) return reject(no, fmt::format("ts '{}' is not an RFC 3339 time", it.rec.ts));
                        it.ts = *t;
                    }
                    it.dir = it.rec.dir;
                    if (it.rec.kind != PayloadKind::none) it.payload = it.rec.payload_bytes();
                    for (auto& e : it.rec.extra)
                        if (e.key == "match" && e.raw_value.size() >= 2 && e.raw_value[0] == '"')
                            it.match = e.raw_value.substr(1, e.raw_value.size() - 2);
                }
                it.line = std::move(line);
                items.push_back(std::move(it));
                return !fatal;
            });
        int err = errno;
        ::close(fd);
        if (fatal) return std::unexpected(*fatal);
        if (!read) return fail(Exit::unavailable, fmt::format("cannot read '{}': {}", f, std::strerror(err)));
    }
    return items;
}

} // namespace m2m::replay
