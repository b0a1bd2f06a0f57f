#pragma once
// MQTT 5 properties as a record's "props" object, both ways:
//   {"content_type":"application/json","response_topic":"a/b","correlation_data":"id-1",
//    "message_expiry":60,"payload_format":1,"topic_alias":3,"subscription_id":[7],
//    "user":[["site","north"],["line","2"]]}
// User properties are [key, value] pairs in order (keys may repeat); correlation data that is
// not valid UTF-8 is "correlation_data_b64".
#include "util/error.hpp"
#include <memory>
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

/// The properties of one outgoing message, when it has any: held apart, so the many messages a
/// queue holds without properties cost one pointer each, not a PubProps (~170 bytes).
class PropsBox {
  public:
    PropsBox() = default;
    PropsBox(const PropsBox& o) : p_(o.p_ ? std::make_unique<PubProps>(*o.p_) : nullptr) {}
    PropsBox(PropsBox&&) noexcept = default;
    PropsBox& operator=(const PropsBox& o) { return *this = PropsBox(o); }
    PropsBox& operator=(PropsBox&&) noexcept = default;
    /// Holds `p` (even an empty one: the message then has an empty property block).
    PropsBox& operator=(PubProps p) {
        p_ = std::make_unique<PubProps>(std::move(p));
        return *this;
    }
    ~PropsBox() = default;

    explicit operator bool() const { return p_ != nullptr; }
    /// The properties, null when the message has none.
    const PubProps* get() const { return p_.get(); }
    const PubProps* operator->() const { return p_.get(); }
    /// The properties to change, created empty when there were none.
    PubProps& edit() {
        if (!p_) p_ = std::make_unique<PubProps>();
        return *p_;
    }
    void reset() { p_.reset(); }

  private:
    std::unique_ptr<PubProps> p_;
};

/// The properties of an arrived message (its MQTT 5 property block, well-formed) as a JSON
/// object ("" when there are none).
std::string props_to_json(std::string_view block);

} // namespace m2m
