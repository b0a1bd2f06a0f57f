#pragma once
// JUnit XML reports (--junit FILE): what CI systems read to show which checks of a run failed.
#include "util/error.hpp"
#include <string>
#include <vector>

namespace m2m {

/// One check as a JUnit testcase.
struct JunitCase {
    std::string name;
    double seconds = 0;
    std::string failure_type; // empty: passed; else the kind of failure ("timeout", "wrong-answer")
    std::string message;      // what was expected and what came
};

/// Writes one testsuite named `suite` holding `cases`, whole to a temporary file renamed into place.
Status write_junit(const std::string& path, const std::string& suite, const std::vector<JunitCase>& cases,
                   double seconds);

} // namespace m2m
