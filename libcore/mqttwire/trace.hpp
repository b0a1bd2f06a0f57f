#pragma once
// -d / --debug: each packet a client sends and receives in one line, as mosquitto's clients print
// them ("sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))").
#include "mqttwire/wire.hpp"
#include <string>
#include <string_view>

namespace m2m::wire {

/// One encoded packet (as the client's encoders write it) described.
std::string describe_sent(std::string_view packet, int version);
/// A decoded packet from the broker described.
std::string describe_received(const Packet& p);

} // namespace m2m::wire
