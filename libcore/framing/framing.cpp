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

void Decoder::feed(std::string_view bytes, int64_t now_us, Frames& out) {
    stats_.bytes += bytes.size();
    do_feed(bytes, now_us, out);
}

Frame& Frames::add() {
    if (n_ == slots_.size()) {
        slots_.emplace_back();
        return slots_[n_++];
    }
    Frame& f = slots_[n_++];
    f.bytes.clear();
    f.err.clear();
    f.view_key.clear();
    f.view.clear();
    return f;
}

void Decoder::emit(Frames& out, std::string&& bytes, std::string_view err) {
    ++stats_.frames;
    Frame& f = out.add();
    f.bytes.assign(bytes);
    f.err.assign(err);
    bytes.clear();
}

void Decoder::emit_view(Frames& out, std::string&& bytes, std::string_view err, const char* key,
                        std::string_view view) {
    ++stats_.frames;
    Frame& f = out.add();
    f.bytes.assign(bytes);
    f.err.assign(err);
    f.view_key.assign(key);
    f.view.assign(view);
    bytes.clear();
}

void Decoder::drop(const std::string& cause, uint64_t nbytes) {
    ++stats_.drops[cause];
    stats_.dropped_bytes[cause] += nbytes;
}

void Decoder::emit_cut(Frames& out, std::string&& bytes, uint64_t rest) {
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
