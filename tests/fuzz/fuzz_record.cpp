// libFuzzer target for the record parser: any line parses or fails cleanly; what parses writes
// back as a record that parses again to the same fields.
#include "records/parser.hpp"
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    static m2m::RecordParser parser;
    std::string_view line(reinterpret_cast<const char*>(bytes), size);
    m2m::Record r;
    if (!parser.parse(line, r)) return 0;
    std::string out;
    m2m::append_jsonl(out, r);
    out.pop_back();
    m2m::Record again;
    if (!parser.parse(out, again)) std::abort();
    if (again.kind != r.kind || again.payload != r.payload || again.seq != r.seq || again.ts != r.ts ||
        again.extra.size() != r.extra.size())
        std::abort();
    return 0;
}
