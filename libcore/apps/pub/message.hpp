#pragma once
// What iot-pub sends to an endpoint that is not an MQTT broker (HTTP, CoAP): each input line's
// message -- the line as it is (-l), the whole record (--whole), or the record's payload -- and
// what kind of bytes it is, for the content type.
#include "apps/pub/pub.hpp"
#include "records/parser.hpp"
#include "records/record.hpp"
#include <optional>
#include <string>

namespace m2m {

struct Message {
    std::string body;
    bool json = false;   // JSON text (a json payload, or --whole)
    bool binary = false; // bytes from hex/b64
    uint64_t line = 0;
    // a record's "coap":{"method":"PUT","path":"sensors/t2"}: this message's method and resource
    // path, over --method and the URI's path (CoAP endpoints; HTTP ignores it)
    std::string coap_method, coap_path;
};

/// -m, -f, -s, -n: the one message (a file and stdin as bytes); none when none of them was given.
Expected<std::optional<Message>> single_message(const PubArgs& a);

class MessageReader {
  public:
    /// `coap`: read a record's "coap" object (method, path); other endpoints leave it alone.
    explicit MessageReader(const PubArgs& a, bool coap = false) : a_(a), coap_(coap) {}
    /// The message of input line `no`; an error says what is wrong with the line.
    Status read(const std::string& line, uint64_t no, Message& m) {
        m = {};
        m.line = no;
        if (a_.raw) {
            m.body = line;
            return {};
        }
        if (auto st = parser_.parse(line, rec_); !st) return st;
        if (coap_)
            if (auto st = coap_fields(m); !st) return st;
        if (a_.whole) {
            m.body = line;
            m.json = true;
            return {};
        }
        if (rec_.kind == PayloadKind::none)
            return fail(Exit::bad_data, "no payload: a record needs one of text, json, hex, b64");
        m.body.assign(rec_.payload_view(scratch_));
        m.json = rec_.kind == PayloadKind::json;
        m.binary = rec_.kind == PayloadKind::hex || rec_.kind == PayloadKind::b64;
        return {};
    }

  private:
    Status coap_fields(Message& m) const;
    const PubArgs& a_;
    bool coap_;
    RecordParser parser_;
    Record rec_;
    std::string scratch_;
};

} // namespace m2m
