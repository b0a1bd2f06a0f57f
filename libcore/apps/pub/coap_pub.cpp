// iot-pub to a CoAP resource (coap://): each message in one request (POST, or PUT with --method, or
// as the record's "coap" object says, with its path),
// CON by default -- acknowledged, or retransmitted and then given up -- or NON with --non; large
// payloads go blockwise. 2.xx is delivered; 5.xx and no answer are retried (--retries, backoff);
// 4.xx fails at once, with the server's diagnostic payload. Exit 1 when a message failed, 4 when
// the server never answered.
#include "apps/pub/coap_pub.hpp"
#include "apps/pub/message.hpp"
#include "coap/coap.hpp"
#include "stats/stats.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <chrono>
#include <fmt/format.h>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace m2m {

namespace {

int content_format(const Message& m) {
    return m.json ? 50 : m.binary ? 42 : 0; // application/json, application/octet-stream, text/plain
}

} // namespace

Expected<Exit> run_coap_pub(const PubArgs& a) {
    int singles = a.has_message + !a.file.empty() + a.null_message + a.stdin_message;
    if (singles > 1) return fail(Exit::usage, "-m, -f, -s and -n exclude each other");
    if (a.rr || !a.persist.empty() || !a.topic.empty() || a.http.batch != 1 || !a.http.headers.empty())
        return fail(Exit::usage,
                    fmt::format("{} does not apply to a CoAP endpoint", a.rr                 ? "--rr"
                                                                        : !a.persist.empty() ? "--persist"
                                                                        : !a.topic.empty()   ? "--topic"
                                                                        : a.http.batch != 1  ? "--batch"
                                                                                             : "--header"));
    if (a.http.method != "POST" && a.http.method != "PUT")
        return fail(Exit::usage, fmt::format("--method {}: use POST or PUT", a.http.method));
    auto o = coap::Client::options(a.psk_identity, a.psk_key_file, a.mqtt.connect_timeout,
                                   {a.mqtt.cafile, a.mqtt.capath, a.mqtt.cert, a.mqtt.key, a.mqtt.insecure});
    o.confirmable = !a.coap_non;
    auto client = coap::Client::open(a.mqtt.broker, o);
    if (!client) return std::unexpected(client.error());
    RunStats stats;
    stats.mqtt = true; // published, acked (a 2.xx answer), failed
    uint64_t requests = 0, retries = 0;
    bool ever_reached = false;
    std::string first_failure;
    Exit code = Exit::ok;

    auto send = [&](const Message& m) -> bool { // false: stop (the server is not there)
        for (int attempt = 0;; ++attempt) {
            ++requests;
            auto ans = (*client)->request(m.coap_method.empty() ? a.http.method : m.coap_method, m.body,
                                          content_format(m), m.coap_path);
            if (ans.reached) ever_reached = true;
            if (ans.why.empty()) {
                ++stats.published;
                if (o.confirmable) ++stats.acked;
                return true;
            }
            if (ans.retry && attempt < a.http.retries) {
                int64_t wait = std::min<int64_t>(250LL << std::min(attempt, 5), 8000);
                ++retries;
                log::warn("{} (line {}): {}; trying again in {} ms ({} of {})", a.mqtt.broker, m.line,
                          ans.why, wait, attempt + 1, a.http.retries);
                std::this_thread::sleep_for(std::chrono::milliseconds(wait));
                continue;
            }
            ++stats.failed;
            if (first_failure.empty()) first_failure = ans.why;
            log::error("{} (line {}): {}: counted as failed", a.mqtt.broker, m.line, ans.why);
            if (!ever_reached) {
                code = Exit::unavailable;
                return false;
            }
            return true;
        }
    };

    auto single = single_message(a);
    if (!single) return std::unexpected(single.error());
    if (*single) {
        const Message& m = **single;
        for (int i = 0; i < a.repeat && code == Exit::ok; ++i) {
            ++stats.records_in;
            send(m);
        }
    } else {
        MessageReader reader(a, true);
        std::string line;
        uint64_t no = 0;
        while (code == Exit::ok && !(a.limits.count && stats.records_in >= a.limits.count) &&
               std::getline(std::cin, line)) {
            ++no;
            if (line.size() > a.max_line) {
                ++stats.bad_records;
                log::error("line {}: {} bytes, over --max-line {}", no, line.size(), a.max_line);
                continue;
            }
            ++stats.records_in;
            Message m;
            if (auto st = reader.read(line, no, m); !st) {
                ++stats.bad_records;
                log::error("line {}: {}", no, st.error().message);
                if (a.common.strict)
                    return fail(Exit::bad_data, fmt::format("line {}: {}", no, st.error().message));
                continue;
            }
            send(m);
        }
    }
    if (a.common.stats) {
        std::string s = stats.to_json();
        s.pop_back();
        log::write("",
                   fmt::format(R"(stats: {},"coap_requests":{},"coap_retries":{}}})", s, requests, retries));
    }
    if (code != Exit::ok) return fail(code, fmt::format("{}: {}", a.mqtt.broker, first_failure));
    if (stats.failed)
        return fail(Exit::runtime, fmt::format("{} of {} message(s) failed (the first: {})", stats.failed,
                                               stats.failed + stats.published, first_failure));
    return Exit::ok;
}

} // namespace m2m
