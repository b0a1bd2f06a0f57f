#pragma once
// Sparkplug B payloads (Eclipse Sparkplug 3.0) to and from JSON, on protobuf-c with the schema in
// sparkplug_b.proto. The JSON is the record's payload in iot-sub and iot-pub:
//   {"timestamp":1700000000000,"seq":3,"metrics":[
//     {"name":"temp","alias":1,"timestamp":1700000000000,"datatype":"Double","value":21.5},
//     {"name":"door","datatype":"Boolean","is_null":true}]}
// Values by datatype: Int8-Int64 and UInt8-UInt64, DateTime (ms) as JSON numbers; Float and
// Double as numbers; Boolean; String, Text and UUID as strings; Bytes and File as base64 strings.
// What m2mkit does not take apart (DataSet, Template, extensions, MetaData, PropertySet) travels
// as base64 under "<field>_b64"; a value in a field its datatype does not name (or cannot hold)
// is shown under that field's name ("int_value", "long_value", ...). Decoding what was encoded
// gives the same JSON (fuzz_sparkplug checks it).
#include "util/error.hpp"
#include <string>
#include <string_view>

namespace m2m::sparkplug {

/// Whether `topic` is in the Sparkplug B namespace and carries a protobuf payload
/// (spBv1.0/GROUP/TYPE/NODE[/DEVICE]; not spBv1.0/STATE/..., which is JSON).
bool is_payload_topic(std::string_view topic);

/// The payload as compact JSON; an error (Exit::bad_data) says what is malformed.
Expected<std::string> to_json(std::string_view payload);

/// The payload for `json`; an error (Exit::bad_data) names the field and what is wrong.
/// `now_ms` is the payload's timestamp when the JSON gives none (the specification wants one;
/// 0 adds none).
Expected<std::string> from_json(std::string_view json, uint64_t now_ms);

/// The name of a datatype ("Int32"), "" when unknown.
std::string_view datatype_name(uint32_t type);

} // namespace m2m::sparkplug
