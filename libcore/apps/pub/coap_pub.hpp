#pragma once
// iot-pub to a CoAP resource (coap://HOST[:PORT]/PATH): see coap_pub.cpp.
#include "util/error.hpp"

namespace m2m {
struct PubArgs;
Expected<Exit> run_coap_pub(const PubArgs& a);
} // namespace m2m
