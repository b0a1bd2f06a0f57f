#include "cli/options.hpp"
#include "framing/framing.hpp"
#include "links/serial.hpp"
#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <map>

namespace m2m::cli {

namespace {
std::map<const CLI::Option*, std::vector<std::string>>& choice_table() {
    static std::map<const CLI::Option*, std::vector<std::string>> t;
    return t;
}
std::map<const CLI::Option*, std::string>& kind_table() {
    static std::map<const CLI::Option*, std::string> t;
    return t;
}
} // namespace

CLI::Validator at_least_one() {
    return CLI::Validator(
        [](std::string& v) {
            char* end = nullptr;
            double n = std::strtod(v.c_str(), &end);
            return v.empty() || *end || !(n >= 1) ? fmt::format("must be at least 1, got '{}'", v)
                                                  : std::string();
        },
        "", "at least 1");
}

CLI::Option* choices(CLI::Option* opt, std::vector<std::string> values) {
    opt->check(CLI::IsMember(values));
    choice_table()[opt] = std::move(values);
    return opt;
}

const std::vector<std::string>* choices_of(const CLI::Option* opt) {
    auto it = choice_table().find(opt);
    return it == choice_table().end() ? nullptr : &it->second;
}

CLI::Option* completes(CLI::Option* opt, std::string kind) {
    kind_table()[opt] = std::move(kind);
    return opt;
}

std::string completion_kind(const CLI::Option* opt) {
    auto it = kind_table().find(opt);
    return it == kind_table().end() ? "" : it->second;
}

void add_common_options(CLI::App& app, CommonArgs& a) {
    app.set_help_flag("--help", "Print this help message and exit"); // -h is the broker host (short_flags)
    app.set_config("--config", "",
                   "Read options from FILE: one 'long-option = value' per line (TOML or INI)");
    app.add_flag("--verbose", a.verbose,
                 "More detail on stderr (repeat for more; -v is mosquitto_sub's 'topic payload' in iot-sub)")
        ->group("Common");
    app.add_flag("--stats", a.stats,
                 "At exit, print counters (frames, bytes, drops by cause, reconnects) as one "
                 "JSON object on stderr")
        ->group("Common");
    app.add_flag("--strict", a.strict, "Bad input is fatal (exit 3) instead of counted and skipped")
        ->group("Common");
    app.add_flag("--version", a.version, "Print the version and exit")->group("Common");
    app.add_option("--generate", a.generate, "Print a man page or completion script")
        ->check(CLI::IsMember({"man", "man7", "bash", "zsh", "fish"}))
        ->group("");
}

void add_link_options(CLI::App& app, LinkArgs& a, const std::string& role, bool required) {
    auto* link = app.add_option("LINK", a.uri,
                                "The link to " + role +
                                    ": serial:PATH?baud=N, pty:[PATH], tcp://HOST:PORT, tcp-listen://:PORT, "
                                    "udp://HOST:PORT, udp-listen://:PORT, file:PATH or -");
    completes(required ? link->required() : link, "link");
    app.add_flag("--no-reconnect", a.no_reconnect, "Exit 1 when the link is lost instead of reopening it")
        ->group("Link");
    add_no_lock_option(app);
}

void add_no_lock_option(CLI::App& app) {
    app.add_flag_callback(
           "--no-lock", [] { set_device_locking(false); },
           "Share a serial device with other programs (by default it is locked, as tio does: a second "
           "opener gets exit 4 naming the holder)")
        ->group("Link");
}

void add_psk_options(CLI::App& app, std::string& identity, std::string& key_file) {
    const char* g = "CoAP over DTLS (coaps://): a pre-shared key, or certificates with the TLS options";
    app.add_option("--psk-identity", identity, "coaps://: the pre-shared key's identity")->group(g);
    completes(app.add_option("--psk-key-file", key_file,
                             "coaps://: the file holding the pre-shared key (never on the command line)"),
              "file")
        ->group(g);
}

void add_framing_options(CLI::App& app, FramingArgs& a) {
    // the list comes from the framing registry: a framing added there shows in --help, the man
    // pages and the completions alike
    std::string help = "How bytes become frames:";
    for (auto& [name, summary] : framing_catalogue()) {
        std::string shown = name == "len"     ? "len:u8|u16be|u16le|u32be|u32le"
                            : name == "fixed" ? "fixed:N"
                            : name == "idle"  ? "idle:MS"
                                              : name;
        help += (help.back() == ':' ? " " : ", ") + shown;
    }
    completes(app.add_option("--framing", a.framing, help)->capture_default_str()->group("Framing"),
              "framing");
    app.add_option("--max-frame", a.max_frame,
                   "Longest frame in bytes; longer ones are cut there, marked and counted")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1} << 28))
        ->group("Framing");
}

void add_view_options(CLI::App& app, OutputArgs& a) {
    choices(
        app.add_option("--format", a.format,
                       "Output: jsonl (records), human (time, source, text or hexdump), hex or raw payload "
                       "lines; auto is human on a terminal, jsonl otherwise")
            ->capture_default_str()
            ->group("Output"),
        {"auto", "jsonl", "human", "hex", "raw"});
    choices(
        app.add_option("--ts", a.ts,
                       "Timestamps in the human view: iso (UTC), local (the machine's zone), epoch seconds, "
                       "ms or us, rel (since the first), delta (since the previous)")
            ->capture_default_str()
            ->group("Output"),
        {"iso", "local", "epoch", "epoch-ms", "epoch-us", "rel", "delta"});
    choices(
        app.add_option("--color", a.color, "Colour in the human view (NO_COLOR and TERM=dumb turn auto off)")
            ->capture_default_str()
            ->group("Output"),
        {"auto", "always", "never"});
}

void add_output_options(CLI::App& app, OutputArgs& a) {
    add_view_options(app, a);
    choices(app.add_option("--payload", a.payload,
                           "Payload key for received bytes: auto is text when printable UTF-8, else hex")
                ->capture_default_str()
                ->group("Output"),
            {"auto", "text", "json", "hex", "b64"});
    app.add_option(
           "--set", a.set,
           "Add the field KEY=VALUE to every record printed (repeatable): --set dev=pump1 feeds topic "
           "templates downstream; VALUE is JSON when it reads as JSON (3, true, \"007\"), else a string")
        ->option_text("KEY=VALUE")
        ->group("Output");
    add_log_option(app, a);
}

void add_log_option(CLI::App& app, OutputArgs& a) {
    completes(app.add_option("--log", a.log,
                             "Also write every record as JSON Lines to FILE (appended), whatever --format "
                             "shows: keep the human view on screen and a log a program can read")
                  ->option_text("FILE")
                  ->group("Output"),
              "file");
}

void add_limit_options(CLI::App& app, LimitArgs& a, const std::string& count_what) {
    app.add_option("-C,--count", a.count, "Stop with exit 0 after N " + count_what)
        ->option_text("N")
        ->group("Limits");
    app.add_option("-W,--timeout", a.timeout,
                   "Stop with exit 124 when DUR (250ms, 5s, 2m) passes before --count or --until is met")
        ->option_text("DUR")
        ->group("Limits");
    app.add_option("--until", a.until, "Stop with exit 0 at the first frame whose payload matches REGEX")
        ->option_text("REGEX")
        ->group("Limits");
}

std::string env_name(const CLI::Option* opt) {
    std::string name = opt->get_lnames().empty() ? "" : opt->get_lnames().front();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c == '-' ? '_' : std::toupper(c); });
    return name.empty() ? "" : "M2MKIT_" + name;
}

void add_env_names(CLI::App& app) {
    for (CLI::Option* opt : app.get_options()) {
        if (opt->get_lnames().empty() || opt->get_group().empty()) continue;
        auto name = opt->get_lnames().front();
        if (name == "help" || name == "version" || name == "config" || name == "pw")
            continue; // -P is refused
        opt->envname(env_name(opt));
    }
}

} // namespace m2m::cli
