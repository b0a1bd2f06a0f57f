#include "ssl/module.hpp"
#include "util/log.hpp"
#include "util/module.hpp"

// The module's own copy of util's log takes the tool's name and verbosity, and hands what it
// says to the tool's log (its console, its prefix).
extern "C" M2MKIT_MODULE_EXPORT void m2mkit_module_init(const m2m::ModuleInit* init) {
    m2m::log::set_program(init->program);
    m2m::log::set_verbosity(init->verbosity);
    m2m::log::set_forward(init->write);
}
