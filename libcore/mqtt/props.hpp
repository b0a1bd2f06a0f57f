#pragma once
// MQTT 5 properties as a record's "props" object, both ways:
//   {"content_type":"application/json","response_topic":"a/b","correlation_data":"id-1",
//    "message_expiry":60,"payload_format":1,"topic_alias":3,"subscription_id":[7],
//    "user":[["site","north"],["line","2"]]}
// User properties are [key, value] pairs in order (keys may repeat); correlation data that is
// not valid UTF-8 is "correlation_data_b64".
#include "util/error.hpp"
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace m2m {

struct PubProps {
    std::optional<std::string> content_type, response_topic, correlation_data;
    std::optional<uint32_t> message_expiry;
    std::optional<int> payload_format, topic_alias;
    std::vector<std::pair<std::string, std::string>> user;

    bool empty() const;
    /// Fields of `raw` (a JSON object) over these; an unknown key or a wrong type is an error.
    Status merge_json(std::string_view raw);
    /// The MQTT 5 property block of a PUBLISH (without its length prefix), user properties last
    /// and in order.
    std::string encode() const;
};

/// The properties of an arrived message (its MQTT 5 property block, well-formed) as a JSON
/// object ("" when there are none).
std::string props_to_json(std::string_view block);

} // namespace m2m
