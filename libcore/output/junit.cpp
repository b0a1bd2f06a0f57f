#include "output/junit.hpp"
#include "records/record.hpp"
#include "util/clock.hpp"
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace m2m {

namespace {

std::string xml_escape(std::string_view s) {
    std::string out;
    for (unsigned char c : replace_invalid_utf8(s)) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                out += fmt::format("&#x{:x};", 0xFFFD); // XML 1.0 forbids them
            else
                out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

} // namespace

Status write_junit(const std::string& path, const std::string& suite, const std::vector<JunitCase>& cases,
                   double seconds) {
    size_t failures =
        std::count_if(cases.begin(), cases.end(), [](auto& c) { return !c.failure_type.empty(); });
    std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    x += fmt::format("<testsuites tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n", cases.size(), failures,
                     seconds);
    x += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3f}\" "
        "timestamp=\"{}\">\n",
        xml_escape(suite), cases.size(), failures, seconds, format_rfc3339(wall_us()).substr(0, 19));
    for (auto& c : cases) {
        x += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml_escape(suite),
                         xml_escape(c.name), c.seconds);
        if (c.failure_type.empty()) {
            x += "/>\n";
            continue;
        }
        x += fmt::format(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                         c.failure_type, xml_escape(c.message), xml_escape(c.message));
    }
    x += "  </testsuite>\n</testsuites>\n";
    std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f)
        return fail(Exit::runtime, fmt::format("cannot write --junit {}: {}", path, std::strerror(errno)));
    bool ok = std::fwrite(x.data(), 1, x.size(), f) == x.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(Exit::runtime, fmt::format("cannot write --junit {}: {}", path, std::strerror(errno)));
    return {};
}

} // namespace m2m
