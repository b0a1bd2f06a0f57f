#include "cli/short_flags.hpp"
#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace m2m::cli {

const std::vector<ShortFlag>& short_flags() {
    static const std::vector<ShortFlag> t = {
        {'C',
         {"count"},
         "stop with exit 0 after N (frames, messages, records); loadgen: messages per device"},
        {'c', {"no-clean"}, "keep the MQTT session (clean start off)"},
        {'D', {"user-property"}, "an MQTT 5 user property KEY=VALUE"},
        {'d', {"debug"}, "trace every MQTT packet on stderr, as mosquitto's clients do"},
        {'E', {"exit-after-subscribe"}, "exit once subscribed"},
        {'F', {"mosquitto-format"}, "print each message in a mosquitto_sub format"},
        {'f', {"file"}, "publish a file as one message"},
        {'H', {"header"}, "an HTTP header 'Name: value' (iot-pub to http:// and https://)"},
        {'h', {"host"}, "the broker host"},
        {'I', {"interactive"}, "m2m-listen's console"},
        {'i', {"id", "id-prefix"}, "the MQTT client id; in loadgen, the prefix of its clients' ids"},
        {'k', {"keepalive"}, "MQTT keepalive in seconds"},
        {'L', {"url"}, "the broker as a URL"},
        {'l', {"raw"}, "each input line is a payload as it is, not a record"},
        {'m', {"message"}, "publish this one message"},
        {'N', {"no-newline"}, "no newline after each message printed"},
        {'n', {"null-message"}, "publish one empty message"},
        {'P', {"pw"}, "refused: a password on the command line shows in ps"},
        {'p', {"port"}, "the broker port"},
        {'q', {"qos"}, "MQTT QoS"},
        {'R', {"ignore-retained"}, "skip retained messages"},
        {'r', {"retain"}, "publish retained"},
        {'s', {"stdin-file"}, "all of stdin is one message"},
        {'T', {"filter-out"}, "hide topics matching a filter"},
        {'t', {"topic"}, "the MQTT topic (or filter, or template)"},
        {'U', {"unsubscribe"}, "unsubscribe from a filter"},
        {'u', {"username"}, "the MQTT user name"},
        {'V', {"protocol-version"}, "MQTT version: 311 or 5"},
        {'v', {"topic-payload"}, "print 'topic payload' lines (mosquitto_sub -v)"},
        {'W', {"timeout"}, "stop with exit 124 after DUR"},
    };
    return t;
}

namespace {

// What these letters meant before one meaning per letter (and what users of other tools type):
// the long option a tool may have under another letter, or only long.
struct Moved {
    char letter;
    const char* long_name;
};
constexpr Moved moved[] = {{'h', "help"},     {'F', "framing"},     {'l', "list"},
                           {'i', "interval"}, {'i', "interactive"}, {'r', "raw"},
                           {'s', "speed"},    {'n', "devices"},     {'d', "duration"}};

const CLI::Option* by_long(const CLI::App& app, const std::string& name) {
    for (const CLI::Option* o : app.get_options())
        for (auto& l : o->get_lnames())
            if (l == name) return o;
    return nullptr;
}

bool has_short(const CLI::App& app, char letter) {
    for (const CLI::Option* o : app.get_options())
        for (auto& s : o->get_snames())
            if (s.size() == 1 && s[0] == letter) return true;
    return false;
}

std::string spelled(const CLI::Option* o) {
    std::string s = "--" + o->get_lnames().front();
    for (auto& sn : o->get_snames())
        s += " (-" + sn + ")";
    return s;
}

} // namespace

std::string short_flag_hint(const CLI::App& app, const std::vector<std::string>& args) {
    for (auto& arg : args) {
        if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-' ||
            !std::isalpha(static_cast<unsigned char>(arg[1])))
            continue;
        char letter = arg[1];
        if (has_short(app, letter)) continue;
        auto it = std::find_if(short_flags().begin(), short_flags().end(),
                               [&](const ShortFlag& f) { return f.letter == letter; });
        std::string what =
            it == short_flags().end()
                ? fmt::format("-{} is no flag of {}", letter, app.get_name())
                : fmt::format(
                      "-{} is no flag of {} (a short flag means one thing in every m2mkit tool: -{} is "
                      "--{}, {})",
                      letter, app.get_name(), letter, it->longs.front(), it->meaning);
        for (const Moved& m : moved)
            if (m.letter == letter)
                if (const CLI::Option* o = by_long(app, m.long_name))
                    return what + fmt::format("; did you mean {}?", spelled(o));
        if (it != short_flags().end()) return what;
    }
    return "";
}

std::string short_flags_man() {
    std::string s;
    for (auto& f : short_flags()) {
        std::string longs;
        for (auto& l : f.longs)
            longs += (longs.empty() ? "" : ", ") + ("\\-\\-" + l);
        std::string meaning;
        for (char c : f.meaning)
            meaning += c == '-' ? std::string("\\-") : std::string(1, c);
        s += fmt::format(".TP\n.B \\-{}\n{}: {}\n", f.letter, longs, meaning);
    }
    return s;
}

} // namespace m2m::cli
