#pragma once
// iot-sub on a CoAP resource (coap://HOST[:PORT]/PATH): see coap_sub.cpp.
#include "util/error.hpp"

namespace m2m {
struct SubArgs;
Expected<Exit> run_coap_sub(const SubArgs& a);
} // namespace m2m
