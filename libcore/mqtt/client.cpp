#include "mqtt/client.hpp"
#include "mqtt/connect_hook.hpp"
#include "mqtt/props.hpp"
#include "util/log.hpp"
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <random>
#include <unistd.h>
#include <utility>

namespace m2m {

std::string paho_version() {
    std::string version, ssl;
    for (auto* nv = MQTTClient_getVersionInfo(); nv && nv->name; ++nv) {
        if (std::strcmp(nv->name, "Version") == 0) version = nv->value;
        if (std::strcmp(nv->name, "OpenSSL version") == 0) ssl = nv->value;
    }
    return fmt::format("Paho MQTT C {}{}", version, ssl.empty() ? "" : " (" + ssl + ")");
}

namespace {

/// "certificate verify failed" out of OpenSSL's "...:error:0A000086:SSL routines:func:reason:file:line:".
std::string openssl_reason(std::string_view s) {
    auto at = s.find("routines:");
    if (at != std::string_view::npos) {
        auto rest = s.substr(at + 9);
        auto func_end = rest.find(':');
        if (func_end != std::string_view::npos) {
            rest.remove_prefix(func_end + 1);
            return std::string(rest.substr(0, rest.find(':')));
        }
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    return std::string(s);
}

std::string connack_v3(int rc) {
    switch (rc) {
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 3: return "server unavailable";
    case 4: return "not authorised: bad user name or password";
    case 5: return "not authorised";
    default: return fmt::format("CONNACK return code {}", rc);
    }
}

bool auth_reason_v5(int rc) { return rc == 0x86 || rc == 0x87 || rc == 0x8A || rc == 0x8C; }

std::string connack_v5(int rc) {
    if (rc == 0x86) return "not authorised: bad user name or password";
    if (rc == 0x87) return "not authorised";
    const char* s = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(rc));
    return s ? fmt::format("{} (reason code 0x{:02x})", s, rc) : fmt::format("reason code 0x{:02x}", rc);
}

/// Paho's synchronous client, without its threads: no callbacks are set but the published one,
/// which Paho calls from MQTTClient_receive, on our thread.
class PahoClient final : public MqttClient {
  public:
    explicit PahoClient(MqttConfig cfg) : MqttClient(std::move(cfg)) {}
    ~PahoClient() override { destroy(); }
    Status connect() override;
    bool connected() override;
    Status subscribe(const std::vector<Subscription>& subs) override;
    Expected<int> publish(const char* topic, std::string_view payload, int qos, bool retain,
                          const PubProps* props) override;
    bool service(const std::function<void(const MqttArrival&)>& on_message) override;
    void pending(std::vector<int>& out) override;
    void disconnect() override;

  private:
    void create();
    void destroy();
    static void on_published(void* ctx, int token, int packet_type, MQTTProperties* props,
                             enum MQTTReasonCodes reason);
    MQTTClient client_ = nullptr;
    std::string ssl_error_;
};

} // namespace

std::unique_ptr<MqttClient> make_paho_client(MqttConfig cfg) { return std::make_unique<PahoClient>(std::move(cfg)); }

std::unique_ptr<MqttClient> make_mqtt_client(MqttConfig cfg) {
    if (cfg.wire) return make_wire_client(std::move(cfg));
    return make_paho_client(std::move(cfg));
}

void PahoClient::create() {
    bool v6 = cfg_.host.find(':') != std::string::npos;
    std::string uri = fmt::format("{}://{}{}{}:{}", cfg_.tls ? "ssl" : "tcp", v6 ? "[" : "", cfg_.host,
                                  v6 ? "]" : "", cfg_.port);
    MQTTClient_createOptions co = MQTTClient_createOptions_initializer;
    co.MQTTVersion = cfg_.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    bool persist = !cfg_.persist_dir.empty();
    int rc = MQTTClient_createWithOptions(&client_, uri.c_str(), cfg_.client_id.c_str(),
                                          persist ? MQTTCLIENT_PERSISTENCE_DEFAULT : MQTTCLIENT_PERSISTENCE_NONE,
                                          persist ? const_cast<char*>(cfg_.persist_dir.c_str()) : nullptr, &co);
    if (rc != MQTTCLIENT_SUCCESS) {
        client_ = nullptr;
        return;
    }
    if (cfg_.version == 5) MQTTClient_setPublished(client_, this, &PahoClient::on_published);
}

void PahoClient::destroy() {
    if (client_) MQTTClient_destroy(&client_);
    client_ = nullptr;
    fd_ = -1;
}

void PahoClient::on_published(void* ctx, int token, int, MQTTProperties*, enum MQTTReasonCodes reason) {
    if (reason >= 0x80) {
        const char* s = MQTTReasonCode_toString(reason);
        static_cast<PahoClient*>(ctx)->failed_.emplace_back(token, s ? s : fmt::format("reason 0x{:02x}", +reason));
    }
}


Status PahoClient::connect() {
    refused_ = auth_refused_ = session_present_ = false;
    // A fresh Paho client per connection: its in-flight list belongs to the connection we lost
    // (the caller resends what was not acknowledged). With --persist, Paho keeps and resends it.
    if (!client_ || cfg_.persist_dir.empty()) {
        destroy();
        create();
    }
    if (!client_)
        return fail(Exit::usage, fmt::format("{}: cannot create an MQTT client (client id '{}')", cfg_.src(),
                                             cfg_.client_id));
    bool v5 = cfg_.version == 5;
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    if (v5) o = MQTTClient_connectOptions_initializer5;
    o.MQTTVersion = v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    o.keepAliveInterval = cfg_.keepalive;
    if (v5)
        o.cleanstart = cfg_.clean, o.cleansession = 0;
    else
        o.cleansession = cfg_.clean;
    o.reliable = 0;
    o.maxInflightMessages = 65535; // our own window keeps below it: Paho would block at its limit
    o.connectTimeout = std::max(1, (cfg_.connect_timeout_ms + 999) / 1000);
    if (!cfg_.user.empty()) o.username = cfg_.user.c_str();
    if (cfg_.has_password) {
        o.password = nullptr;
        o.binarypwd.len = static_cast<int>(cfg_.password.size());
        o.binarypwd.data = cfg_.password.data();
    }
    MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
    if (!cfg_.will_topic.empty()) {
        will.topicName = cfg_.will_topic.c_str();
        will.message = nullptr;
        will.payload.len = static_cast<int>(cfg_.will_payload.size());
        will.payload.data = cfg_.will_payload.data();
        will.qos = cfg_.will_qos;
        will.retained = cfg_.will_retain;
        o.will = &will;
    }
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    ssl_error_.clear();
    if (cfg_.tls) {
        ssl.trustStore = cfg_.cafile.empty() ? nullptr : cfg_.cafile.c_str();
        ssl.CApath = cfg_.capath.empty() ? nullptr : cfg_.capath.c_str();
        ssl.keyStore = cfg_.cert.empty() ? nullptr : cfg_.cert.c_str();
        ssl.privateKey = cfg_.key.empty() ? nullptr : cfg_.key.c_str();
        ssl.enableServerCertAuth = !cfg_.insecure;
        ssl.verify = !cfg_.insecure;
        ssl.ssl_error_context = this;
        ssl.ssl_error_cb = [](const char* str, size_t len, void* u) {
            auto* self = static_cast<PahoClient*>(u);
            if (self->ssl_error_.empty()) self->ssl_error_ = openssl_reason(std::string_view(str, len));
            return 0;
        };
        o.ssl = &ssl;
    }
    MQTTProperties props = MQTTProperties_initializer;
    if (v5) {
        uint32_t expiry = cfg_.session_expiry;
        if (!cfg_.clean && expiry == 0) expiry = 0xFFFFFFFF; // -c: keep the session (as mosquitto_sub)
        if (expiry) {
            MQTTProperty p;
            p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
            p.value.integer4 = expiry;
            MQTTProperties_add(&props, &p);
        }
    }

    int rc;
    int hook_error = 0;
    MQTTResponse resp = MQTTResponse_initializer;
    {
        // Plain TCP only: when a TLS handshake also completes within Paho's first SSL_connect
        // (it can, on a busy machine), Paho 1.3.12 takes that as a failure and disconnects.
        // TLS connections keep Paho's own (100 ms slower) path.
        paho_hook::Arm arm(cfg_.connect_timeout_ms, /*complete=*/!cfg_.tls);
        if (v5) {
            resp = MQTTClient_connect5(client_, &o, &props, nullptr);
            rc = resp.reasonCode;
        } else {
            rc = MQTTClient_connect(client_, &o);
        }
        fd_ = arm.fd();
        hook_error = arm.error();
    }
    MQTTProperties_free(&props);
    window_ = cfg_.max_inflight;
    if (v5 && rc == MQTTCLIENT_SUCCESS && resp.properties) {
        if (MQTTProperties_hasProperty(resp.properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM))
            window_ = std::min(window_, MQTTProperties_getNumericValue(resp.properties,
                                                                       MQTTPROPERTY_CODE_RECEIVE_MAXIMUM));
    }
    MQTTResponse_free(resp);
    window_ = std::max(window_, 1);
    if (rc == MQTTCLIENT_SUCCESS) {
        session_present_ = o.returned.sessionPresent;
        return {};
    }
    fd_ = -1;
    std::string why;
    if (rc > 0) {
        refused_ = true;
        auth_refused_ = v5 ? auth_reason_v5(rc) : (rc == 4 || rc == 5);
        why = "refused: " + (v5 ? connack_v5(rc) : connack_v3(rc));
    } else if (hook_error) {
        why = std::strerror(hook_error);
        for (auto& c : why)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!ssl_error_.empty()) {
        why = "TLS: " + ssl_error_;
    } else if (cfg_.tls) {
        why = "no TLS session (broker unreachable, or its certificate or host name not accepted)";
    } else if (rc == MQTTCLIENT_FAILURE) {
        why = fmt::format("no CONNACK from the broker within {} s", o.connectTimeout);
    } else {
        const char* s = MQTTClient_strerror(rc);
        why = s ? s : fmt::format("Paho error {}", rc);
    }
    return fail(Exit::unavailable, fmt::format("{}: {}", cfg_.src(), why));
}

bool PahoClient::connected() { return client_ && MQTTClient_isConnected(client_); }

Status PahoClient::subscribe(const std::vector<Subscription>& subs) {
    std::vector<char*> filters;
    std::vector<int> qos;
    std::vector<MQTTSubscribe_options> opts;
    for (auto& s : subs) {
        filters.push_back(const_cast<char*>(s.filter.c_str()));
        qos.push_back(s.qos);
        MQTTSubscribe_options so = MQTTSubscribe_options_initializer;
        so.noLocal = s.no_local;
        so.retainAsPublished = s.retain_as_published;
        so.retainHandling = static_cast<unsigned char>(s.retain_handling);
        opts.push_back(so);
    }
    int n = static_cast<int>(subs.size());
    if (cfg_.version == 5) {
        MQTTResponse r = MQTTClient_subscribeMany5(client_, n, filters.data(), qos.data(), opts.data(), nullptr);
        int rc = r.reasonCode;
        std::vector<int> codes;
        if (r.reasonCodeCount > 0 && r.reasonCodes)
            codes.assign(r.reasonCodes, r.reasonCodes + r.reasonCodeCount);
        else
            codes.push_back(rc);
        MQTTResponse_free(r);
        if (rc < 0) return fail(Exit::runtime, fmt::format("{}: subscribe failed: {}", cfg_.src(), MQTTClient_strerror(rc)));
        for (size_t i = 0; i < codes.size() && i < subs.size(); ++i)
            if (codes[i] >= 0x80) {
                const char* s = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(codes[i]));
                return fail(Exit::runtime, fmt::format("{}: subscription to '{}' refused: {}", cfg_.src(),
                                                       subs[i].filter, s ? s : "failure"));
            }
        return {};
    }
    int rc = MQTTClient_subscribeMany(client_, n, filters.data(), qos.data());
    if (rc < 0) return fail(Exit::runtime, fmt::format("{}: subscribe failed: {}", cfg_.src(), MQTTClient_strerror(rc)));
    for (int i = 0; i < n; ++i)
        if (qos[i] == 0x80)
            return fail(Exit::runtime, fmt::format("{}: subscription to '{}' refused by the broker", cfg_.src(),
                                                   subs[i].filter));
    return {};
}

Expected<int> PahoClient::publish(const char* topic, std::string_view payload, int qos, bool retain,
                                 const PubProps* pub_props) {
    if (!client_) return fail(Exit::runtime, "not connected");
    MQTTClient_message m = MQTTClient_message_initializer;
    m.payload = const_cast<char*>(payload.data());
    m.payloadlen = static_cast<int>(payload.size());
    m.qos = qos;
    m.retained = retain;
    MQTTClient_deliveryToken token = 0;
    int rc;
    if (cfg_.version == 5) {
        MQTTProperties props = MQTTProperties_initializer;
        if (pub_props) pub_props->build(props);
        m.properties = props;
        MQTTResponse r = MQTTClient_publishMessage5(client_, topic, &m, &token);
        rc = r.reasonCode;
        MQTTResponse_free(r);
        MQTTProperties_free(&props);
    } else {
        rc = MQTTClient_publishMessage(client_, topic, &m, &token);
    }
    if (rc != MQTTCLIENT_SUCCESS) {
        const char* s = MQTTClient_strerror(rc);
        // A write that finds the connection broken fails a QoS 0 publish: the message stays queued.
        bool gone = rc == MQTTCLIENT_DISCONNECTED || !MQTTClient_isConnected(client_);
        return fail(gone ? Exit::runtime : Exit::bad_data,
                    s ? s : fmt::format("Paho error {}", rc));
    }
    return qos > 0 ? token : 0;
}

bool PahoClient::service(const std::function<void(const MqttArrival&)>& on_message) {
    if (!client_) return false;
    for (int i = 0; i < 4096; ++i) {
        char* topic = nullptr;
        int topic_len = 0;
        MQTTClient_message* m = nullptr;
        int rc = MQTTClient_receive(client_, &topic, &topic_len, &m, 0);
        if (m) {
            MqttArrival a;
            a.topic = std::string_view(topic, topic_len > 0 ? static_cast<size_t>(topic_len) : std::strlen(topic));
            a.payload = std::string_view(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
            a.qos = m->qos;
            a.retain = m->retained;
            a.dup = m->dup;
            a.props = cfg_.version == 5 ? &m->properties : nullptr;
            on_message(a);
            MQTTClient_freeMessage(&m);
            MQTTClient_free(topic);
            continue;
        }
        if (rc == MQTTCLIENT_DISCONNECTED || rc == MQTTCLIENT_FAILURE || !MQTTClient_isConnected(client_))
            return false;
        pollfd p{fd_, POLLIN, 0};
        if (fd_ < 0 || ::poll(&p, 1, 0) <= 0) break;
    }
    return MQTTClient_isConnected(client_);
}

void PahoClient::pending(std::vector<int>& out) {
    out.clear();
    if (!client_) return;
    MQTTClient_deliveryToken* tokens = nullptr;
    if (MQTTClient_getPendingDeliveryTokens(client_, &tokens) == MQTTCLIENT_SUCCESS && tokens) {
        for (auto* t = tokens; *t != -1; ++t)
            out.push_back(*t);
        MQTTClient_free(tokens);
    }
}

void PahoClient::disconnect() {
    if (client_ && MQTTClient_isConnected(client_)) {
        if (cfg_.version == 5)
            MQTTClient_disconnect5(client_, 0, MQTTREASONCODE_SUCCESS, nullptr);
        else
            MQTTClient_disconnect(client_, 0);
    }
}

} // namespace m2m
