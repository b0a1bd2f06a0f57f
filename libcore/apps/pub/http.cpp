// iot-pub's HTTP sink (see http.hpp). One request at a time on one kept-alive connection: a
// request blocks the loop for at most --request-timeout, while stdin waits (the loop's signals
// wait in their signalfd and are served after it). Retries are timers, with backoff.
#include "apps/pub/http.hpp"
#include "apps/pub/message.hpp"
#include "apps/pub/pub.hpp"
#include "loop/event_loop.hpp"
#include "records/parser.hpp"
#include "records/record.hpp"
#include "runtime/line_input.hpp"
#include "stats/stats.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <algorithm>
#include <curl/curl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <sstream>
#include <unistd.h>

namespace m2m {

bool is_http_endpoint(std::string_view endpoint) {
    return endpoint.starts_with("http://") || endpoint.starts_with("https://");
}

namespace {

/// The libcurl calls the sink makes, resolved from libcurl.so.4 when the sink is opened.
struct Curl {
    CURLcode (*global_init)(long);
    CURL* (*easy_init)();
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    void (*easy_cleanup)(CURL*);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
    char* (*version)();

    static Expected<Curl> load() {
        void* h = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return fail(Exit::unavailable,
                        fmt::format("HTTP needs libcurl (Debian: libcurl4): {}", ::dlerror()));
        Curl c{};
        bool ok = true;
        auto get = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
            ok = ok && fn != nullptr;
        };
        get(c.global_init, "curl_global_init");
        get(c.easy_init, "curl_easy_init");
        get(c.easy_setopt, "curl_easy_setopt");
        get(c.easy_perform, "curl_easy_perform");
        get(c.easy_getinfo, "curl_easy_getinfo");
        get(c.easy_cleanup, "curl_easy_cleanup");
        get(c.easy_strerror, "curl_easy_strerror");
        get(c.slist_append, "curl_slist_append");
        get(c.slist_free_all, "curl_slist_free_all");
        get(c.version, "curl_version");
        if (!ok) return fail(Exit::unavailable, "libcurl.so.4 lacks a function m2mkit calls");
        if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return fail(Exit::unavailable, "libcurl could not initialise");
        return c;
    }
};

size_t keep_body(char* data, size_t size, size_t n, void* user) {
    auto* body = static_cast<std::string*>(user);
    size_t len = size * n;
    if (body->size() < 65536) body->append(data, std::min(len, 65536 - body->size()));
    return len;
}

/// One message: its bytes, and how it goes in a JSON array (as JSON, or as a JSON string).
using Msg = Message; // bytes from hex/b64 go in an array as base64

/// The outcome of one request.
struct Answer {
    bool reached = false; // the server answered (any status)
    long status = 0;
    std::string why;    // in words, for a failure
    bool retry = false; // worth trying again
};

class HttpSink {
  public:
    HttpSink(const PubArgs& a, EventLoop& loop, RunStats& stats, Curl curl)
        : a_(a), h_(a.http), loop_(loop), stats_(stats), curl_(curl) {}
    ~HttpSink() {
        if (easy_) curl_.easy_cleanup(easy_);
        if (headers_) curl_.slist_free_all(headers_);
        if (type_headers_) curl_.slist_free_all(type_headers_);
    }
    HttpSink(const HttpSink&) = delete;
    HttpSink& operator=(const HttpSink&) = delete;

    uint64_t requests = 0, retries = 0, failed_requests = 0;
    bool ever_reached = false;
    std::string first_failure;

    Status init() {
        auto bt = parse_duration(h_.batch_time);
        if (!bt) return std::unexpected(bt.error());
        batch_us_ = bt->count();
        auto rt = parse_duration(h_.request_timeout);
        if (!rt) return std::unexpected(rt.error());
        auto ct = parse_duration(a_.mqtt.connect_timeout);
        if (!ct) return std::unexpected(ct.error());
        if (h_.method != "POST" && h_.method != "PUT")
            return fail(Exit::usage, fmt::format("--method {}: use POST or PUT", h_.method));
        for (auto& hd : h_.headers) {
            auto colon = hd.find(':');
            if (colon == std::string::npos || colon == 0 || hd.find_first_of("\r\n") != std::string::npos)
                return fail(Exit::usage, fmt::format("--header '{}': expected 'Name: value'", hd));
            std::string name = hd.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            if (name == "content-type") content_type_given_ = true;
            headers_ = curl_.slist_append(headers_, hd.c_str());
        }
        if (!a_.content_type.empty()) {
            content_type_given_ = true;
            headers_ = curl_.slist_append(headers_, ("Content-Type: " + a_.content_type).c_str());
        }
        headers_ = curl_.slist_append(headers_, "Expect:"); // no 100-continue round trip
        easy_ = curl_.easy_init();
        if (!easy_) return fail(Exit::runtime, "libcurl: no handle");
        curl_.easy_setopt(easy_, CURLOPT_URL, a_.mqtt.broker.c_str());
        curl_.easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
        curl_.easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, std::max<long>(1, ct->count() / 1000));
        curl_.easy_setopt(easy_, CURLOPT_TIMEOUT_MS, std::max<long>(1, rt->count() / 1000));
        curl_.easy_setopt(easy_, CURLOPT_WRITEFUNCTION, keep_body);
        curl_.easy_setopt(easy_, CURLOPT_WRITEDATA, &reply_);
        curl_.easy_setopt(easy_, CURLOPT_USERAGENT, "m2mkit-iot-pub");
        curl_.easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
        if (h_.method == "PUT") curl_.easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, "PUT");
        // TLS: verified unless --insecure, against --cafile/--capath or the system's store
        if (!a_.mqtt.cafile.empty()) curl_.easy_setopt(easy_, CURLOPT_CAINFO, a_.mqtt.cafile.c_str());
        if (!a_.mqtt.capath.empty()) curl_.easy_setopt(easy_, CURLOPT_CAPATH, a_.mqtt.capath.c_str());
        if (!a_.mqtt.cert.empty()) curl_.easy_setopt(easy_, CURLOPT_SSLCERT, a_.mqtt.cert.c_str());
        if (!a_.mqtt.key.empty()) curl_.easy_setopt(easy_, CURLOPT_SSLKEY, a_.mqtt.key.c_str());
        if (a_.mqtt.insecure) {
            curl_.easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_.easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        return {};
    }

    void start(std::optional<Msg> single) {
        if (single) {
            for (int i = 0; i < a_.repeat; ++i)
                add(*single);
            input_done_ = true;
            pump();
            return;
        }
        stdin_watch_ = loop_.watch(STDIN_FILENO, POLLIN, [this](short) {
            input_.read_from(STDIN_FILENO);
            pump();
        });
        pump();
    }

    /// Messages not sent when the run ended (interrupted, --timeout): counted.
    uint64_t unsent() const { return batch_.size() + sending_.size(); }

  private:
    bool limit_reached() const { return a_.limits.count && stats_.records_in >= a_.limits.count; }

    void pump() {
        if (loop_.stopped()) return;
        std::string line;
        while (sending_.empty() && !limit_reached() && input_.next_line(line)) {
            Msg m;
            if (encode(line, input_.line_no(), m)) add(std::move(m));
            if (loop_.stopped()) return;
        }
        if (stdin_watch_ >= 0 && (input_.exhausted() || limit_reached())) {
            loop_.unwatch(stdin_watch_);
            stdin_watch_ = -1;
            input_done_ = true;
        }
        if (stdin_watch_ >= 0) loop_.set_events(stdin_watch_, sending_.empty() ? POLLIN : 0);
        if (sending_.empty() && !batch_.empty() && input_done_) go(); // the last, partial batch
        if (input_done_ && sending_.empty() && batch_.empty()) loop_.stop(Exit::ok);
    }

    void add(Msg m) {
        if (batch_.empty() && h_.batch > 1 && batch_us_ > 0) {
            batch_timer_ = loop_.at(mono_us() + batch_us_, [this] {
                batch_timer_ = -1;
                if (sending_.empty() && !batch_.empty()) go();
            });
        }
        batch_.push_back(std::move(m));
        if (static_cast<int>(batch_.size()) >= h_.batch && sending_.empty()) go();
    }

    bool encode(const std::string& line, uint64_t no, Msg& m) {
        ++stats_.records_in;
        if (auto st = reader_.read(line, no, m); !st) return bad(no, st.error().message);
        return true;
    }

    bool bad(uint64_t line, const std::string& why) {
        ++stats_.bad_records;
        log::error("line {}: {}", line, why);
        if (a_.common.strict) loop_.fail(Exit::bad_data, fmt::format("line {}: {}", line, why));
        return false;
    }

    /// The batch goes: one request, retried on a transient failure.
    void go() {
        if (batch_timer_ >= 0) loop_.cancel(batch_timer_), batch_timer_ = -1;
        sending_.swap(batch_);
        batch_.clear();
        attempt_ = 0;
        body_.clear();
        std::string type;
        if (h_.batch > 1) { // one JSON array
            body_ += '[';
            for (size_t i = 0; i < sending_.size(); ++i) {
                if (i) body_ += ',';
                auto& m = sending_[i];
                if (m.json) {
                    body_ += m.body;
                } else if (m.binary) {
                    std::string b64;
                    append_base64(b64, m.body);
                    append_json_string(body_, b64);
                } else {
                    append_json_string(body_, m.body);
                }
            }
            body_ += ']';
            type = "application/json";
        } else {
            auto& m = sending_.front();
            body_ = m.body;
            type = m.json     ? "application/json"
                   : m.binary ? "application/octet-stream"
                              : "text/plain; charset=utf-8";
        }
        if (type_headers_) curl_.slist_free_all(type_headers_), type_headers_ = nullptr;
        // the flags' headers, then the type (unless a header or --content-type gave one)
        for (auto* h = headers_; h; h = h->next)
            type_headers_ = curl_.slist_append(type_headers_, h->data);
        if (!content_type_given_)
            type_headers_ = curl_.slist_append(type_headers_, ("Content-Type: " + type).c_str());
        send();
    }

    void send() {
        ++requests;
        reply_.clear();
        curl_.easy_setopt(easy_, CURLOPT_HTTPHEADER, type_headers_);
        curl_.easy_setopt(easy_, CURLOPT_POSTFIELDS, body_.data());
        curl_.easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
        Answer ans = perform();
        if (ans.reached) ever_reached = true;
        if (ans.why.empty()) {
            stats_.published += sending_.size();
            stats_.acked += sending_.size();
            sending_.clear();
            return pump();
        }
        if (ans.retry && attempt_ < h_.retries) {
            int64_t wait = std::min<int64_t>(250000LL << std::min(attempt_, 5), 8000000);
            ++attempt_;
            ++retries;
            log::warn("{} (lines {}-{}): {}; trying again in {} ms ({} of {})", a_.mqtt.broker,
                      sending_.front().line, sending_.back().line, ans.why, wait / 1000, attempt_,
                      h_.retries);
            loop_.at(mono_us() + wait, [this] { send(); });
            return;
        }
        ++failed_requests;
        stats_.failed += sending_.size();
        if (first_failure.empty()) first_failure = ans.why;
        log::error("{} (lines {}-{}): {}{}: {} message(s) counted as failed", a_.mqtt.broker,
                   sending_.front().line, sending_.back().line, ans.why,
                   ans.retry ? fmt::format(" after {} retr{}", attempt_, attempt_ == 1 ? "y" : "ies") : "",
                   sending_.size());
        sending_.clear();
        // nothing has ever reached the server: it is not there (exit 4), not one bad request
        if (!ever_reached) {
            loop_.fail(Exit::unavailable, fmt::format("{}: {}", a_.mqtt.broker, ans.why));
            return;
        }
        pump();
    }

    Answer perform() {
        Answer a;
        errbuf_[0] = 0;
        CURLcode rc = curl_.easy_perform(easy_);
        if (rc != CURLE_OK) { // libcurl's words for this failure, else for its kind
            a.why = errbuf_[0] ? errbuf_ : curl_.easy_strerror(rc);
            // a verification failure will not pass on a retry
            a.retry = rc != CURLE_PEER_FAILED_VERIFICATION && rc != CURLE_SSL_CACERT_BADFILE &&
                      rc != CURLE_SSL_CERTPROBLEM && rc != CURLE_URL_MALFORMAT &&
                      rc != CURLE_UNSUPPORTED_PROTOCOL;
            return a;
        }
        a.reached = true;
        curl_.easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &a.status);
        if (a.status >= 200 && a.status < 300) return a;
        std::string first = reply_.substr(0, reply_.find_first_of("\r\n"));
        if (first.size() > 200) first = first.substr(0, 200) + "...";
        a.why = fmt::format("HTTP {}{}", a.status, first.empty() ? "" : ": " + first);
        a.retry = a.status == 408 || a.status == 429 || a.status >= 500;
        return a;
    }

    const PubArgs& a_;
    const HttpArgs& h_;
    EventLoop& loop_;
    RunStats& stats_;
    Curl curl_;
    CURL* easy_ = nullptr;
    char errbuf_[CURL_ERROR_SIZE] = {};
    curl_slist* headers_ = nullptr;      // the flags' headers
    curl_slist* type_headers_ = nullptr; // and the content type of the request going
    bool content_type_given_ = false;
    int64_t batch_us_ = 0;
    int batch_timer_ = -1;
    LineInput input_{a_.max_line, [this](const std::string& why) { bad(input_.line_no(), why); }};
    MessageReader reader_{a_};
    std::string body_, reply_;
    std::vector<Msg> batch_, sending_;
    int attempt_ = 0;
    int stdin_watch_ = -1;
    bool input_done_ = false;
};

} // namespace

Expected<Exit> run_http_pub(const PubArgs& a) {
    int singles = a.has_message + !a.file.empty() + a.null_message + a.stdin_message;
    if (singles > 1) return fail(Exit::usage, "-m, -f, -s and -n exclude each other");
    if (singles && (a.raw || a.whole))
        return fail(Exit::usage, "-m/-f/-s/-n send one message; --raw and --whole read stdin");
    if (a.rr || !a.persist.empty() || !a.topic.empty())
        return fail(Exit::usage, fmt::format("{} is MQTT's; an HTTP endpoint takes the URL only",
                                             a.rr                 ? "--rr"
                                             : !a.persist.empty() ? "--persist"
                                                                  : "--topic"));
    if (a.http.batch < 1) return fail(Exit::usage, "--batch needs 1 or more");
    if (a.http.retries < 0) return fail(Exit::usage, "--retries needs 0 or more");
    auto single = single_message(a);
    if (!single) return std::unexpected(single.error());
    auto curl = Curl::load();
    if (!curl) return std::unexpected(curl.error());
    EventLoop loop;
    RunStats stats;
    stats.mqtt = true; // published, acked (answered 2xx), failed
    HttpSink sink(a, loop, stats, *curl);
    if (auto st = sink.init(); !st) return std::unexpected(st.error());
    if (!a.limits.timeout.empty()) {
        auto d = parse_duration(a.limits.timeout);
        if (!d) return std::unexpected(d.error());
        loop.at(mono_us() + d->count(), [&] { loop.stop(Exit::timeout); });
    }
    sink.start(std::move(*single));
    loop.run();
    if (uint64_t n = sink.unsent()) stats.drops["unsent_at_exit"] += n;
    if (a.common.stats) {
        std::string s = stats.to_json();
        s.pop_back(); // the closing brace: the HTTP counts join the object
        log::write("", fmt::format(R"(stats: {},"http_requests":{},"http_retries":{}}})", s, sink.requests,
                                   sink.retries));
    }
    auto result = loop.result();
    if (!result) return result;
    if (*result == Exit::ok && stats.failed)
        return fail(Exit::runtime,
                    fmt::format("{} of {} message(s) failed ({} request(s); the first: {})", stats.failed,
                                stats.failed + stats.published, sink.failed_requests, sink.first_failure));
    return *result;
}

} // namespace m2m
