#pragma once
// m2mkit's loadable module (m2mkit-ssl.so: OpenSSL, libcoap): what only some runs use is loaded
// when a run first needs it, so a plain MQTT or serial run does not map and relocate those
// libraries at every start (#18). The module sits beside the tools in the build tree and in
// ../lib/m2mkit next to an installed tool's bin/.
#include "util/error.hpp"
#include <string_view>

namespace m2m {

/// What a module is told when it is loaded: the tool's name and verbosity, and where its
/// diagnostics go (the tool's own log::write, so the console and the prefix are the tool's).
struct ModuleInit {
    std::string_view program;
    int verbosity = 0;
    void (*write)(std::string_view level, std::string_view message) = nullptr;
};

/// `symbol` (extern "C") from the process when it is linked in (the unit tests and fuzzers),
/// else from `file`, loaded once and given its ModuleInit (its "m2mkit_module_init"). The error
/// names the file, where it was looked for and why it did not load.
Expected<void*> module_symbol(const char* file, const char* symbol, std::string_view needed_for);

/// The table of functions `symbol` (a `const Api* symbol()`) returns, looked up as module_symbol does.
template <typename Api>
Expected<const Api*> module_api(const char* file, const char* symbol, std::string_view needed_for) {
    auto sym = module_symbol(file, symbol, needed_for);
    if (!sym) return std::unexpected(sym.error());
    return reinterpret_cast<const Api* (*)()>(*sym)();
}

} // namespace m2m
