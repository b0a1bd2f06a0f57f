#include "framing/framing.hpp"
#include "util/suggest.hpp"
#include <fmt/format.h>

namespace m2m {

void register_builtin_framings();

uint64_t DecoderStats::total_drops() const {
    uint64_t n = 0;
    for (auto& [cause, count] : drops)
        n += count;
    return n;
}

void Decoder::feed(std::string_view bytes, int64_t now_us, std::vector<Frame>& out) {
    stats_.bytes += bytes.size();
    do_feed(bytes, now_us, out);
}

void Decoder::emit(std::vector<Frame>& out, std::string bytes, std::string err) {
    ++stats_.frames;
    out.push_back(Frame{std::move(bytes), std::move(err)});
}

void Decoder::emit_view(std::vector<Frame>& out, std::string bytes, std::string err, const char* key,
                        std::string view) {
    ++stats_.frames;
    out.push_back(Frame{std::move(bytes), std::move(err), key, std::move(view)});
}

void Decoder::drop(const std::string& cause, uint64_t nbytes) {
    ++stats_.drops[cause];
    stats_.dropped_bytes[cause] += nbytes;
}

void Decoder::emit_cut(std::vector<Frame>& out, std::string bytes, uint64_t rest) {
    rest += bytes.size() > max_frame_ ? bytes.size() - max_frame_ : 0;
    bytes.resize(std::min(bytes.size(), max_frame_));
    drop("overlong", rest);
    emit(out, std::move(bytes), fmt::format("overlong: cut at {} bytes, {} more dropped", max_frame_, rest));
}

namespace {
struct Entry {
    std::string summary;
    FramingFactory factory;
};
std::map<std::string, Entry>& registry() {
    static std::map<std::string, Entry> r;
    return r;
}
void ensure_builtins() {
    static bool done = (register_builtin_framings(), true);
    (void)done;
}
} // namespace

void register_framing(const std::string& name, std::string summary, FramingFactory factory) {
    registry()[name] = Entry{std::move(summary), std::move(factory)};
}

Expected<Framing> make_framing(std::string_view spec, const FramingOptions& opts) {
    ensure_builtins();
    auto colon = spec.find(':');
    std::string name(spec.substr(0, colon));
    std::string_view arg = colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
    auto it = registry().find(name);
    if (it == registry().end()) {
        std::vector<std::string> names;
        for (auto& [n, e] : registry())
            names.push_back(n);
        return fail(Exit::usage, fmt::format("unknown framing '{}'{}; known: {}", spec,
                                             did_you_mean(name, names), fmt::join(names, ", ")));
    }
    auto framing = it->second.factory(arg, opts);
    if (framing && framing->name.empty()) framing->name = std::string(spec);
    return framing;
}

std::vector<std::pair<std::string, std::string>> framing_catalogue() {
    ensure_builtins();
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& [n, e] : registry())
        out.emplace_back(n, e.summary);
    return out;
}

} // namespace m2m
