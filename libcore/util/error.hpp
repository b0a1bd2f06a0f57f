#pragma once
// Errors as values: every fallible libcore call returns Expected<T>; the tool's one top-level
// handler prints "tool: error: <message>" and exits with the documented code.
#include <expected>
#include <string>

namespace m2m {

/// Exit status contract (docs/design.md, "Exit status"). Every man page lists these.
enum class Exit : int {
    ok = 0,           // input ended, --count reached, --until matched
    runtime = 1,      // link lost and not recovered, write failed
    usage = 2,        // bad option, bad URI, conflicting options
    bad_data = 3,     // malformed input under --strict
    unavailable = 4,  // endpoint absent at start
    wrong_answer = 5, // the device answered, but wrongly (exception, AT ERROR, expectation not met)
    timeout = 124,    // --timeout before --count/--until, or no reply within --reply-timeout
    interrupted = 130,
};

struct Error {
    Exit code = Exit::runtime;
    std::string message;
};

template <typename T> using Expected = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Exit code, std::string message) {
    return std::unexpected(Error{code, std::move(message)});
}

} // namespace m2m
