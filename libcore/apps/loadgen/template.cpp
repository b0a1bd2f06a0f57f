#include "apps/loadgen/template.hpp"
#include <cstdlib>
#include <fmt/format.h>

namespace m2m::loadgen {

Expected<std::vector<Part>> parse_template(const std::string& t, const char* what) {
    std::vector<Part> parts;
    size_t i = 0;
    while (i < t.size()) {
        size_t open = t.find('{', i);
        // a '{' that does not start a known field is literal (JSON templates are full of them)
        while (open != std::string::npos) {
            auto rest = std::string_view(t).substr(open);
            if (rest.starts_with("{dev}") || rest.starts_with("{seq}") || rest.starts_with("{ts}") ||
                rest.starts_with("{rand:"))
                break;
            open = t.find('{', open + 1);
        }
        if (open == std::string::npos) {
            parts.push_back({t.substr(i)});
            break;
        }
        if (open > i) parts.push_back({t.substr(i, open - i)});
        size_t close = t.find('}', open);
        std::string f = t.substr(open + 1, close - open - 1);
        Part p;
        if (f == "dev")
            p.kind = Part::dev;
        else if (f == "seq")
            p.kind = Part::seq;
        else if (f == "ts")
            p.kind = Part::ts;
        else {
            p.kind = Part::rand;
            p.n = std::atoi(f.c_str() + 5);
            if (p.n <= 0 || p.n > 1 << 20)
                return fail(Exit::usage, fmt::format("{}: {{rand:N}} needs N from 1 to 1048576", what));
        }
        parts.push_back(p);
        i = close + 1;
    }
    return parts;
}

/// Reads dev and seq back out of a message made from the template.
bool parse_back(const std::vector<Part>& parts, std::string_view s, int64_t& dev, int64_t& seq) {
    dev = seq = -1;
    size_t at = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
        auto& p = parts[k];
        if (p.kind == Part::lit) {
            if (s.substr(at, p.text.size()) != p.text) return false;
            at += p.text.size();
            continue;
        }
        size_t end = s.size();
        if (p.kind == Part::rand)
            end = at + static_cast<size_t>(p.n);
        else if (k + 1 < parts.size() && parts[k + 1].kind == Part::lit)
            end = s.find(parts[k + 1].text, at);
        if (end == std::string_view::npos || end > s.size()) return false;
        if (p.kind == Part::dev || p.kind == Part::seq) {
            int64_t v = 0;
            if (end == at) return false;
            for (size_t i = at; i < end; ++i) {
                if (s[i] < '0' || s[i] > '9') return false;
                v = v * 10 + (s[i] - '0');
            }
            (p.kind == Part::dev ? dev : seq) = v;
        }
        at = end;
    }
    return at == s.size();
}

bool has_fields(const std::vector<Part>& parts) {
    bool dev = false, seq = false;
    for (auto& p : parts)
        dev = dev || p.kind == Part::dev, seq = seq || p.kind == Part::seq;
    return dev && seq;
}

} // namespace m2m::loadgen
