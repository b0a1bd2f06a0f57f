#pragma once
// Parses one JSON Lines record with simdjson's On-Demand API, validating every value (also the
// ones it only carries through) and keeping user fields byte-exact.
#include "records/record.hpp"
#include "util/error.hpp"
#include <memory>

namespace m2m {

class RecordParser {
  public:
    RecordParser();
    ~RecordParser();
    /// Parses `line` (without its '\n') into `out`. The error message names the column and
    /// what is wrong, not the line: the caller knows the line number.
    Status parse(std::string_view line, Record& out);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace m2m
