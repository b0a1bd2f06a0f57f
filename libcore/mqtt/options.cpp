#include "mqtt/options.hpp"
#include "cli/options.hpp"
#include "mqttwire/tls.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <termios.h>
#include <unistd.h>

namespace m2m {

namespace {

void add_session_options(CLI::App& app, MqttArgs& a, const char* g) {
    app.add_option("-i,--id", a.client_id, "Client id (default: generated, unique per process)")->group(g);
    app.add_option("-k,--keepalive", a.keepalive, "Keepalive in seconds (default 60; 0: none)")
        ->check(CLI::Range(0, 65535))
        ->group(g);
    app.add_flag("-c,--no-clean", a.no_clean,
                 "Keep the session: the broker queues QoS 1/2 messages while the client is away "
                 "(use with a fixed --id)")
        ->group(g);
    app.add_option("--session-expiry", a.session_expiry,
                   "MQTT 5: how long the broker keeps the session after a disconnect (DUR; with -c, default "
                   "never)")
        ->option_text("DUR")
        ->group(g);
    app.add_flag("--no-reconnect", a.no_reconnect,
                 "Exit (status 1) when the connection is lost instead of reconnecting with backoff")
        ->group(g);
}

void add_credential_and_tls_options(CLI::App& app, MqttArgs& a) {
    const char* c = "Credentials";
    app.add_option("-u,--username", a.user, "User name (or USER@ in BROKER)")->group(c);
    cli::completes(app.add_option("--password-file", a.password_file,
                                  "Read the password from the first line of FILE (else M2MKIT_MQTT_PASSWORD, "
                                  "else a prompt on the terminal); never on the command line"),
                   "file")
        ->group(c);
    // mosquitto's -P, taken so that its error can say what works instead of "not expected"
    app.add_option(
           "-P,--pw", a.password_arg,
           "Refused: a password on the command line shows in 'ps' and shell history (see --password-file)")
        ->option_text("PASSWORD")
        ->group(c);
    const char* t = "TLS";
    cli::completes(
        app.add_option("--cafile", a.cafile, "CA certificates to trust (PEM; default: the system store)"),
        "file")
        ->group(t);
    cli::completes(
        app.add_option("--capath", a.capath, "Directory of CA certificates (hashed, as c_rehash makes)"),
        "file")
        ->group(t);
    cli::completes(app.add_option("--cert", a.cert, "Client certificate (PEM)"), "file")->group(t);
    cli::completes(app.add_option("--key", a.key, "Client private key (PEM)"), "file")->group(t);
    app.add_flag("--insecure", a.insecure,
                 "Do not verify the server's certificate or host name (explicit opt-out; never the default)")
        ->group(t);
}

void add_will_options(CLI::App& app, MqttArgs& a) {
    const char* w = "Last will";
    app.add_option("--will-topic", a.will_topic, "Topic the broker publishes to if this client vanishes")
        ->group(w);
    app.add_option("--will-payload", a.will_payload, "The will message")->group(w);
    cli::choices(app.add_option("--will-qos", a.will_qos, "QoS of the will"), {"0", "1", "2"})->group(w);
    app.add_flag("--will-retain", a.will_retain, "Retain the will message")->group(w);
}

} // namespace

void add_mqtt_options(CLI::App& app, MqttArgs& a, const std::string& role, unsigned parts) {
    app.set_help_flag("--help", "Print this help message and exit"); // -h is the broker host
    if (parts & broker_arg)
        cli::completes(app.add_option("BROKER", a.broker,
                                      "The broker to " + role +
                                          ": mqtt://[USER@]HOST[:PORT][/TOPIC]?qos=N&v=5, mqtts://... for "
                                          "TLS, ws://HOST[:PORT][/PATH] or wss://... over WebSockets (PATH "
                                          "defaults to /mqtt; the topic from -t) (default "
                                          "mqtt://localhost:1883)"),
                       "broker");
    const char* g = "Broker";
    if (parts & trace)
        app.add_flag("-d,--debug", a.debug,
                     "Print each MQTT packet sent and received on stderr, as mosquitto's -d does (Client ID "
                     "sending PUBLISH (d0, q1, r0, m1, 'topic', ... (5 bytes)))")
            ->group(g);
    if (parts & broker_arg) {
        auto* url =
            app.add_option("-L,--url", a.broker,
                           "The broker as mosquitto's -L takes it: mqtt(s)://[USER@]HOST[:PORT]/TOPIC, the "
                           "same as BROKER (a password in it is refused)")
                ->option_text("URL")
                ->group(g);
        url->excludes(app.get_option("BROKER"));
        cli::completes(url, "broker");
    }
    app.add_option("-h,--host", a.host, "Broker host (overrides BROKER's)")->group(g);
    app.add_option("-p,--port", a.port, "Broker port (default 1883, 8883 with TLS)")->group(g);
    cli::choices(
        app.add_option("-V,--protocol-version", a.version, "MQTT version: 311 (3.1.1, the default) or 5"),
        {"311", "5"})
        ->group(g);
    app.add_option("--connect-timeout", a.connect_timeout,
                   "How long a connection attempt may take (up to the CONNACK, TLS included)")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(g);
    if (parts & session) add_session_options(app, a, g);
    add_credential_and_tls_options(app, a);
    if (parts & will) add_will_options(app, a);
}

namespace {

std::string prompt_password(const std::string& who) {
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) return {};
    std::string prompt = fmt::format("Password for {}: ", who);
    (void)!::write(fd, prompt.data(), prompt.size());
    termios old{};
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(fd, TCSANOW, &quiet);
    }
    std::string pw;
    char ch;
    while (::read(fd, &ch, 1) == 1 && ch != '\n')
        pw += ch;
    if (restore) tcsetattr(fd, TCSANOW, &old);
    (void)!::write(fd, "\n", 1);
    ::close(fd);
    return pw;
}

} // namespace

Expected<int> uri_number(const Uri& u, const std::string& key, int def, int lo, int hi) {
    std::string v = u.get(key);
    if (v.empty()) return def;
    int n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < lo || n > hi)
        return fail(Exit::usage,
                    fmt::format("bad BROKER parameter ?{}={}: a whole number from {} to {}", key, v, lo, hi));
    return n;
}

Expected<MqttConfig> resolve_mqtt(const MqttArgs& a, const std::string& tool, Uri& u) {
    std::string text = a.broker.empty() ? "mqtt://localhost" : a.broker;
    if (text.find("://") == std::string::npos) text = "mqtt://" + text; // "host:port" alone
    auto uri = parse_uri(text);
    if (!uri) return std::unexpected(uri.error());
    if (!uri->scheme.starts_with("mqtt") && uri->scheme != "ws" && uri->scheme != "wss")
        return fail(Exit::usage,
                    fmt::format("bad BROKER '{}': expected mqtt://, mqtts://, ws:// or wss://", a.broker));
    u = *uri;
    MqttConfig c;
    c.tls = u.scheme == "mqtts" || u.scheme == "wss";
    if (u.scheme == "ws" || u.scheme == "wss") { // the path is HTTP's, not a topic
        c.websocket = true;
        c.ws_path = "/" + (u.path.empty() ? std::string("mqtt") : u.path);
        u.path.clear();
    }
    c.host = a.host.empty() ? u.host : a.host;
    if (a.port) {
        c.port = a.port;
    } else {
        try {
            c.port = std::stoi(u.port);
        } catch (...) {
            return fail(Exit::usage,
                        fmt::format("bad BROKER '{}': port '{}' is not a number", a.broker, u.port));
        }
    }
    if (c.port <= 0 || c.port > 65535) return fail(Exit::usage, fmt::format("bad port {}", c.port));
    std::string v = !a.version.empty() ? a.version : u.get("v", "311");
    if (v == "5" || v == "50" || v == "mqttv5")
        c.version = 5;
    else if (v == "311" || v == "4" || v == "mqttv311")
        c.version = 4;
    else
        return fail(Exit::usage, fmt::format("bad MQTT version '{}': use 311 or 5", v));
    c.client_id = !a.client_id.empty() ? a.client_id : u.get("client-id");
    if (c.client_id.empty()) c.client_id = default_client_id(tool);
    if (a.keepalive >= 0) {
        c.keepalive = a.keepalive;
    } else {
        auto k = uri_number(u, "keepalive", 60, 0, 65535);
        if (!k) return std::unexpected(k.error());
        c.keepalive = *k;
    }
    c.clean = !a.no_clean;
    c.debug = a.debug;
    if (!a.session_expiry.empty()) {
        auto d = parse_duration(a.session_expiry);
        if (!d) return std::unexpected(d.error());
        c.session_expiry = static_cast<uint32_t>(std::min<int64_t>(d->count() / 1000000, 0xFFFFFFFE));
        if (c.version != 5) return fail(Exit::usage, "--session-expiry needs MQTT 5 (-V 5)");
    }
    auto ct = parse_duration(a.connect_timeout);
    if (!ct) return std::unexpected(ct.error());
    c.connect_timeout_ms = static_cast<int>(std::max<int64_t>(1, ct->count() / 1000));
    if (!a.password_arg.empty())
        return fail(Exit::usage,
                    "-P: a password on the command line is refused (it would show in 'ps' and shell "
                    "history): give it by --password-file FILE, the M2MKIT_MQTT_PASSWORD "
                    "environment variable, or the prompt on a terminal");
    if (u.user.find(':') != std::string::npos)
        // it would go out as the user name "user:password" (and show in the broker's log)
        return fail(Exit::usage, "a password in the BROKER URI is refused (it would show in 'ps' and shell "
                                 "history): give only USER@ and the password by --password-file FILE, the "
                                 "M2MKIT_MQTT_PASSWORD environment variable, or the prompt on a terminal");
    c.user = !a.user.empty() ? a.user : u.user;
    if (!a.password_file.empty()) {
        std::ifstream f(a.password_file);
        if (!f) return fail(Exit::usage, fmt::format("cannot read --password-file '{}'", a.password_file));
        std::getline(f, c.password);
        if (!c.password.empty() && c.password.back() == '\r') c.password.pop_back();
        c.has_password = true;
    } else if (const char* env = std::getenv("M2MKIT_MQTT_PASSWORD")) {
        c.password = env;
        c.has_password = true;
    } else if (!c.user.empty()) {
        c.password = prompt_password(c.user + "@" + c.host);
        c.has_password = !c.password.empty();
    }
    if (c.has_password && c.user.empty())
        return fail(Exit::usage, "a password needs a user name (-u or USER@ in BROKER)");
    c.cafile = a.cafile;
    c.capath = a.capath;
    c.cert = a.cert;
    c.key = a.key;
    c.insecure = a.insecure;
    if (!c.tls && (!a.cafile.empty() || !a.capath.empty() || !a.cert.empty() || a.insecure))
        return fail(Exit::usage, "TLS options need an mqtts:// or wss:// BROKER");
    if (a.cert.empty() != a.key.empty()) return fail(Exit::usage, "--cert and --key go together");
    if (c.tls) { // a CA, certificate or key that cannot be loaded is a usage error now, not at connect
        if (auto ctx = wire::TlsContext::make({c.cafile, c.capath, c.cert, c.key, c.insecure}); !ctx)
            return std::unexpected(ctx.error());
        if (c.insecure)
            log::warn("--insecure: the broker's certificate is not checked; anyone on the path can read "
                      "and change this connection");
    }
    if (c.websocket) // its keys and their check come from the module that holds OpenSSL
        if (auto api = wire::tls_api(); !api) return std::unexpected(api.error());
    c.will_topic = a.will_topic;
    c.will_payload = a.will_payload;
    c.will_qos = a.will_qos;
    c.will_retain = a.will_retain;
    if (c.will_topic.empty() && (!a.will_payload.empty() || a.will_retain))
        return fail(Exit::usage, "--will-payload and --will-retain need --will-topic");
    return c;
}

CLI::Option* add_persist_sync_option(CLI::App& app, std::string& value) {
    return cli::choices(
               app.add_option("--persist-sync", value,
                              "When the journal is flushed to disk: batch (once per batch read), message "
                              "(after every message), off (by the kernel: survives a crash of the process, "
                              "not a power loss)"),
               {"batch", "message", "off"})
        ->capture_default_str();
}

CLI::Option* add_max_inflight_option(CLI::App& app, int& window, int& qos2_window) {
    return app
        .add_option("--max-inflight", window,
                    "QoS 1/2 messages awaiting acknowledgement at once (the broker's Receive Maximum caps "
                    "it). Unless this is given, at most 20 of them are QoS 2: mosquitto 2.0 drops QoS 2 "
                    "messages beyond its max_inflight_messages, 20 by default")
        ->each([&qos2_window](const std::string& s) { // given: QoS 2 messages may fill the window too
            int n = 0;
            if (std::from_chars(s.data(), s.data() + s.size(), n).ec == std::errc()) qos2_window = n;
        })
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
}

} // namespace m2m
