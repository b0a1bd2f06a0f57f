#pragma once
// m2mkit-ssl.so, the module util/module.hpp loads: OpenSSL (mqttwire/tls.hpp) and libcoap
// (coap/coap.hpp) behind the interfaces those headers declare. Compiled with hidden visibility:
// what it exports is marked here.
#define M2MKIT_MODULE_EXPORT __attribute__((visibility("default")))
