#include "util/module.hpp"
#include "util/log.hpp"
#include <dlfcn.h>
#include <fmt/format.h>
#include <limits.h>
#include <map>
#include <mutex>
#include <string>
#include <unistd.h>

namespace m2m {

namespace {

/// The folder the running executable is in ("" when /proc is not there).
std::string exe_dir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    std::string path(buf, static_cast<size_t>(n));
    return path.substr(0, path.rfind('/'));
}

struct Loaded {
    void* handle = nullptr;
    std::string why;
};

Loaded load(const char* file) {
    std::string dir = exe_dir();
    Loaded l;
    std::string tried;
    for (const std::string& path : {dir + "/" + file, dir + "/../lib/m2mkit/" + file}) {
        if (::access(path.c_str(), F_OK) != 0) {
            tried += (tried.empty() ? "" : ", ") + path;
            continue;
        }
        l.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!l.handle) {
            const char* e = ::dlerror();
            l.why = e ? e : "dlopen failed";
            return l;
        }
        using Init = void (*)(const ModuleInit*);
        if (auto init = reinterpret_cast<Init>(::dlsym(l.handle, "m2mkit_module_init"))) {
            ModuleInit mi{log::program(), log::verbosity(), &log::write};
            init(&mi);
        }
        return l;
    }
    l.why = fmt::format("not found (looked for {})", tried);
    return l;
}

} // namespace

Expected<void*> module_symbol(const char* file, const char* symbol, std::string_view needed_for) {
    if (void* linked = ::dlsym(RTLD_DEFAULT, symbol)) return linked;
    static std::mutex m;
    static std::map<std::string, Loaded> modules;
    std::lock_guard lock(m);
    auto it = modules.find(file);
    if (it == modules.end()) it = modules.emplace(file, load(file)).first;
    const Loaded& l = it->second;
    if (!l.handle)
        return fail(Exit::runtime,
                    fmt::format("{} needs {}, which cannot be loaded: {}", needed_for, file, l.why));
    void* s = ::dlsym(l.handle, symbol);
    if (!s) return fail(Exit::runtime, fmt::format("{} has no {} (an older m2mkit install?)", file, symbol));
    return s;
}

} // namespace m2m
