#include "cli/short_flags.hpp"
#include "cli/tool.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/suggest.hpp"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <libserialport.h>
#include <unistd.h>

namespace m2m::cli {

std::string version_text(const std::string& tool, const std::string& libraries) {
    std::string git = M2MKIT_GIT;
    return fmt::format("{} {}{}\nlibserialport {}\n{}", tool, M2MKIT_VERSION,
                       git.empty() ? "" : " (git " + git + ")", sp_get_package_version_string(),
                       libraries.empty() ? "" : libraries + "\n");
}

const std::vector<std::pair<int, std::string>>& exit_status_table() {
    static const std::vector<std::pair<int, std::string>> t = {
        {0, "done: input ended, --count reached, --until matched; a closed output pipe is not an error"},
        {1,
         "runtime failure: link or broker connection lost and not recovered, broker refused, write failed"},
        {2, "usage: bad option, bad URI, conflicting options"},
        {3, "bad data under --strict (a malformed record, a frame that cannot be encoded or decoded)"},
        {4, "endpoint unavailable at start: port absent, peer or broker unreachable, broker refused the "
            "connection"},
        {5, "the device answered, but wrongly: a Modbus exception, an AT ERROR, an expectation not met; a "
            "--fail-if gate that held"},
        {124, "--timeout ran out before --count or --until was met, or a request got no reply within "
              "--reply-timeout"},
        {130, "interrupted (SIGINT, SIGTERM)"},
    };
    return t;
}

int run_tool(CLI::App& app, const ToolDoc& doc, CommonArgs& common, int argc, char** argv,
             const std::function<Expected<Exit>()>& run) {
    // The name the tool was called by: an install with a name prefix (m2m-bridge) speaks and
    // documents itself under that name.
    std::string name = argc > 0 ? std::string(argv[0]) : doc.name;
    name = name.substr(name.find_last_of('/') + 1);
    log::set_program(name);
    app.name(name);
    app.description(doc.summary);
    std::string footer = "Exit status:";
    for (auto& [code, what] : exit_status_table())
        footer += fmt::format("\n  {:<4} {}", code, what);
    app.footer(footer + fmt::format("\n\nSee {}(1) and m2mkit(7).", name));
    add_env_names(app);
    // Precedence: command line, then M2MKIT_* environment, then --config file. CLI11 puts the
    // file above the environment, so environment values join the command line unless given there.
    std::vector<std::string> args(argv + 1, argv + argc);
    for (const CLI::Option* opt : app.get_options()) {
        const char* value = opt->get_envname().empty() ? nullptr : std::getenv(opt->get_envname().c_str());
        if (!value) continue;
        bool given = false;
        for (auto& arg : args) {
            for (auto& l : opt->get_lnames())
                given |= arg == "--" + l || arg.starts_with("--" + l + "=");
            for (auto& sn : opt->get_snames())
                given |= arg.starts_with("-" + sn);
        }
        if (!given) args.push_back("--" + opt->get_lnames().front() + "=" + value);
    }
    // every duration option (DUR) is checked as it is parsed: '' or 1e308h is a usage error, not
    // a silently disabled timeout
    for (CLI::Option* opt : app.get_options())
        if (opt->get_option_text() == "DUR")
            opt->check(CLI::Validator(
                [](std::string& s) {
                    auto d = parse_duration(s);
                    return d ? std::string() : d.error().message;
                },
                "", "duration"));
    app.allow_config_extras(CLI::config_extras_mode::error);
    std::reverse(args.begin(), args.end()); // CLI11 takes a vector last argument first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    } catch (const CLI::RequiredError& e) {
        if (common.generate.empty() && !common.version) { // those need no LINK
            std::string hint = short_flag_hint(app, std::vector<std::string>(argv + 1, argv + argc));
            log::error("{}", hint.empty() ? e.what() : hint);
            std::fprintf(stderr, "Run '%s --help' for usage.\n", name.c_str());
            return static_cast<int>(Exit::usage);
        }
    } catch (const CLI::ConfigError& e) {
        // an unknown key in a --config file: named, with the option it most likely meant
        std::string what = e.what();
        const std::string prefix = "INI was not able to parse ";
        if (what.starts_with(prefix)) {
            std::string key = what.substr(prefix.size());
            std::vector<std::string> names;
            for (const CLI::Option* opt : app.get_options())
                for (auto& l : opt->get_lnames())
                    names.push_back(l);
            what = fmt::format("--config: unknown key '{}'{}", key, did_you_mean(key, names));
        }
        log::error("{}", what);
        std::fprintf(stderr, "Run '%s --help' for usage.\n", name.c_str());
        return static_cast<int>(Exit::usage);
    } catch (const CLI::ParseError& e) {
        std::string hint = short_flag_hint(app, std::vector<std::string>(argv + 1, argv + argc));
        log::error("{}", hint.empty() ? e.what() : hint);
        std::fprintf(stderr, "Run '%s --help' for usage.\n", name.c_str());
        return static_cast<int>(Exit::usage);
    }
    if (common.version) {
        std::fputs(version_text(name, doc.libraries ? doc.libraries() : "").c_str(), stdout);
        return 0;
    }
    if (!common.generate.empty()) {
        const std::string& g = common.generate;
        std::string out = g == "man"    ? generate_man(app, doc)
                          : g == "man7" ? generate_manual7()
                          : g == "bash" ? generate_bash(app)
                          : g == "zsh"  ? generate_zsh(app)
                                        : generate_fish(app);
        std::fputs(out.c_str(), stdout);
        return 0;
    }
    log::set_verbosity(common.verbose);
    auto result = run();
    if (!result) {
        if (result.error().code != Exit::ok) log::error("{}", result.error().message);
        return static_cast<int>(result.error().code);
    }
    return static_cast<int>(*result);
}

} // namespace m2m::cli
