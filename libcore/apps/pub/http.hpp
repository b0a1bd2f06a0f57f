#pragma once
// iot-pub to an HTTP endpoint (http://, https://): each record's message POSTed (or PUT), or
// batches of them as one JSON array, on libcurl. libcurl is loaded when such an endpoint is used
// (dlopen), so an MQTT run does not pay for its shared libraries at start.
#include "util/error.hpp"
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

struct PubArgs;

struct HttpArgs {
    std::vector<std::string> headers; // -H "Name: value"
    int batch = 1;                    // messages per request
    std::string batch_time = "1s";    // a partial batch goes after this long
    int retries = 3;                  // for a connection error, 408, 429 and 5xx
    std::string method = "POST";
    std::string request_timeout = "30s";
};

/// Whether `endpoint` names an HTTP sink (http:// or https://).
bool is_http_endpoint(std::string_view endpoint);

Expected<Exit> run_http_pub(const PubArgs& a);

} // namespace m2m
