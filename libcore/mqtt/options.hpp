#pragma once
// The broker options every MQTT tool shares (iot-pub, iot-sub, bridge, loadgen): the BROKER
// URI and the flags mosquitto users know (-h -p -V -i -u -k -c), credentials, TLS, last will.
#include "links/uri.hpp"
#include "mqtt/config.hpp"
#include "util/error.hpp"
#include <CLI/CLI.hpp>

namespace m2m {

struct MqttArgs {
    std::string broker; // mqtt://[user@]host[:port][/topic]?qos=&v=
    std::string host;
    int port = 0;
    std::string version; // 311 | 5
    std::string client_id;
    int keepalive = -1;
    bool no_clean = false;
    std::string session_expiry;
    std::string user;
    std::string password_file;
    std::string password_arg; // -P: refused, with the ways that work
    std::string cafile, capath, cert, key;
    bool insecure = false;
    std::string will_topic, will_payload;
    int will_qos = 0;
    bool will_retain = false;
    std::string connect_timeout = "10s";
    bool no_reconnect = false;
    bool debug = false;
};

/// Which option groups a tool takes beyond host, port, version, credentials and TLS.
enum MqttParts : unsigned {
    broker_arg = 1, // the BROKER positional (replay names its broker as TARGET instead)
    session = 2,    // -i -k -c --session-expiry --no-reconnect
    will = 4,       // --will-*
    trace = 8,      // -d --debug
    all_parts = 15
};

/// Adds BROKER and the broker flags. `role` says what the tool does there ("publish to").
void add_mqtt_options(CLI::App& app, MqttArgs& a, const std::string& role, unsigned parts = all_parts);

/// What the BROKER URI and the flags say, merged (flags win over the URI). The password comes
/// from --password-file, else M2MKIT_MQTT_PASSWORD, else a prompt on the terminal when a user
/// name is given and there is one. `uri_out` receives the parsed URI (topic, qos, retain).
Expected<MqttConfig> resolve_mqtt(const MqttArgs& a, const std::string& tool, Uri& uri_out);
/// A whole-number parameter of the BROKER URI (?qos=1, ?keepalive=30) in [lo, hi], `def` when
/// absent; anything else is a usage error naming it.
Expected<int> uri_number(const Uri& u, const std::string& key, int def, int lo, int hi);

/// --persist-sync batch|message|off, for the tools that take --persist (iot-pub, bridge).
CLI::Option* add_persist_sync_option(CLI::App& app, std::string& value);

/// --max-inflight N, for the tools that publish (iot-pub, bridge): sets `window`; given, it sets
/// `qos2_window` too (mosquitto 2.0 drops QoS 2 beyond its max_inflight_messages, 20, so the
/// tools' default lets at most 20 of the window be QoS 2).
CLI::Option* add_max_inflight_option(CLI::App& app, int& window, int& qos2_window);

} // namespace m2m
