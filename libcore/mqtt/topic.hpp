#pragma once
// Topics from records: templates over record fields (plant/{dev}/data), and the checks a topic
// must pass before a PUBLISH carries it.
#include "records/record.hpp"
#include "util/error.hpp"
#include <string>
#include <vector>

namespace m2m {

/// A topic template: literal text and {field} references, parsed once.
struct TopicTemplate {
    struct Part {
        std::string text;
        bool field = false;
    };
    std::vector<Part> parts;
    bool has_fields() const;
    static Expected<TopicTemplate> parse(const std::string& t);
    /// The topic for a record; an error names the missing or unusable field.
    Expected<std::string> expand(const Record& r) const;
    /// The literal text alone (a template without fields).
    std::string plain() const;
};

/// A field's value as topic text: strings unescaped, numbers and booleans as written.
Expected<std::string> field_text(const Record& r, const std::string& name);
/// A topic a publish may use: not empty, no wildcard, UTF-8 without NUL.
Status check_topic(const std::string& t);
/// A filter a subscription may use: not empty; + alone in its level; # alone and last.
Status check_filter(const std::string& f);
/// Whether `topic` matches `filter` (+ one level, # the rest; $-topics only by a filter naming them).
bool topic_matches(std::string_view filter, std::string_view topic);

} // namespace m2m
