// bridge: a gateway between a link (serial, pty, TCP/UDP) and an MQTT broker, in one process.
#include "apps/bridge/bridge.hpp"
#include "cli/tool.hpp"
#include "mqtt/client.hpp"
#include "mqtt/options.hpp"

int main(int argc, char** argv) {
    m2m::BridgeArgs args;
    m2m::cli::ToolDoc doc{
        "bridge",
        "a gateway between a serial/TCP link and an MQTT broker: uplink, downlink, Modbus polling",
        "bridge reads frames from LINK and publishes each as a message (uplink), writes messages from "
        "--command-topic to LINK as frames (downlink), and with --map polls Modbus devices and publishes "
        "their decoded values -- one process, one event loop.\n\n"
        "Uplink: each frame becomes a record (as m2m-listen prints it: ts, src, dir, seq, payload, and the "
        "framing's modbus or nmea view). The topic is --topic (or BROKER's topic), a template over the "
        "record's fields; the message is the frame's bytes, or with --whole the record as JSON. QoS 1 by "
        "default.\n\n"
        "Downlink: a message on --command-topic (a filter; $share/GROUP/... lets several bridges serve one "
        "command stream) is a record -- its payload, or for Modbus a modbus object such as "
        "{\"modbus\":{\"unit\":1,\"fc\":6,\"addr\":7,\"value\":1}} -- or, when it is not a record, bytes as "
        "they are. It is framed and written to LINK. With --reply-topic the next frame from the device "
        "(within --reply-timeout) is published there as a record, so request/response works through the "
        "gateway; commands then go one at a time.\n\n"
        "Writes by name (with --map): {\"set\":{\"setpoint\":21.5,\"relay\":true},\"cid\":\"c-1\"} on "
        "--command-topic writes each value as the map says (type, order, scale undone; a holding register "
        "with fc 6, several with fc 16, a coil with fc 5; \"device\" picks one when names repeat). Each "
        "outcome is published on --reply-topic, or on an MQTT 5 command's response topic with its "
        "correlation data: {\"device\":…,\"name\":…,\"value\":…,\"result\":\"written\"|\"exception\"|"
        "\"no answer\"|\"refused\",\"error\":…,\"cid\":…}. A name not in the map, a read-only table or a "
        "value that does not fit is refused with the reason.\n\n"
        "Polling: --map FILE is a register map in TOML: [[device]] tables (name, unit, poll, max_gap) each "
        "with [[device.value]] tables (name; table: holding, input, coil or discrete; addr; type: int16, "
        "uint16, int32, uint32, int64, uint64, float32, float64, string:N or bits; order: ABCD, CDAB, BADC "
        "or DCBA, or word_order and byte_order big or little; scale; offset; decimals; topic; value, what "
        "replay --serve-map holds at start). A value is "
        "raw * scale + offset, printed with the decimals the raw value, scale and offset carry (scale 0.1: "
        "one) unless decimals = N says otherwise: 123.478, never 123.47800000000001. Each value is "
        "published as {\"ts\":…,\"device\":…,\"name\":…,\"value\":…} on its topic (default --topic, "
        "m2m/{device}/{name}; fields device, name, unit), on every poll or with --on-change only when it "
        "changed.\n\n"
        "The bus is used as Modbus wants: the values of one unit and function that lie within max_gap "
        "registers of each other (default 10; -1 reads each value alone) are read in one request of at most "
        "125 registers (2000 "
        "bits); a unit that refuses such a read (exception 2) has those values read one by one from then "
        "on. Between one exchange and the next the line is quiet for 3.5 characters at the link's baud "
        "(1.75 ms above 19200), plus --turnaround. A read with no good answer (timeout, CRC error) is sent "
        "again --retries times; then the unit is marked offline on STATUS/devices/NAME (retained), the rest "
        "of its round is skipped, and its polls back off (interval doubled per failed round, up to 30 s) so "
        "a dead unit takes a bounded share of the bus; the first good answer marks it online and restores "
        "its interval. An exception answer is published on the value's topic as "
        "{\"ts\":…,\"device\":…,\"name\":…,\"error\":\"exception 2 (illegal data address)\"}.\n\n"
        "Sparkplug B: --sparkplug GROUP/NODE makes the bridge an edge node (Eclipse Sparkplug 3.0) for the "
        "map's devices, in place of the value topics and the retained status. Its last will is "
        "spBv1.0/GROUP/NDEATH/NODE (QoS 1) with a bdSeq one more on every connection; once connected it "
        "publishes NBIRTH (seq 0: bdSeq and Node Control/Rebirth), then DBIRTH on "
        "spBv1.0/GROUP/DBIRTH/NODE/DEVICE for each device as it first answers -- every value a metric "
        "with its name and a datatype from its type (Int16 ... UInt64, Float, Double; a scaled value "
        "Double; a coil Boolean; string:N String), null while unread. After that a DDATA carries the "
        "values that changed (report by exception: --on-change is implied), a DDEATH says a device "
        "stopped answering, and seq counts 0-255 over them all and wraps. NCMD with Node Control/Rebirth "
        "true gives the births again; DCMD writes metrics by name as {\"set\":...} does, then reads "
        "them back, so the new value comes in a DDATA. Sparkplug messages go at QoS 0, not retained, as "
        "the specification says; a normal exit publishes the NDEATH itself.\n\n"
        "Gateway: --modbus-server tcp-listen://HOST:PORT serves Modbus TCP masters (SCADA, mbpoll -m tcp) "
        "the devices on LINK, as mbusd does: any number of masters at once, each answer to the master "
        "that asked with its transaction id, their requests taking turns on the bus with the bridge's own "
        "polls and commands. A device that does not answer (or answers wrongly) is exception 11 (gateway "
        "target device failed to respond); a link that is down is exception 10 (gateway path "
        "unavailable).\n\n"
        "Status: STATUS (--status-topic, default m2m/bridge/CLIENT-ID) holds a retained "
        "{\"state\":\"online\",\"link\":\"up\"|\"down\"} while the bridge runs; the last will sets it "
        "offline if the bridge vanishes, and a normal exit does so itself. Every --stats-interval, "
        "STATUS/stats gets the counters (frames, bytes, drops by cause, queue depth, reconnects).\n\n"
        "CoAP uplink: with BROKER coap://HOST[:PORT][/PATH] (or coaps://, DTLS with --psk-identity and "
        "--psk-key-file or with certificates and the TLS options) the uplink goes to a CoAP server: each "
        "message is one request -- POST, or PUT with --method -- to the path the topic template gives "
        "(--topic, else the URI's path; with --map m2m/{device}/{name}), application/json for records and "
        "values. One request at a time; --qos 0 sends NON, 1 and 2 CON (acknowledged, retransmitted). A "
        "server that does not answer, or answers 5.xx, is tried again with backoff while the rest queue "
        "behind (the same --buffer bounds and --persist journal as for MQTT); 4.xx fails the message, "
        "counted and said. There is no downlink and no status resource: --command-topic, --status-topic, "
        "--retain and --sparkplug are MQTT's.\n\n"
        "Store and forward: while the broker is away, uplink messages queue (at most --buffer messages "
        "and --buffer-bytes); past that the oldest are dropped and counted as overflow, never silently. "
        "With --persist DIR every uplink message is journaled before it is queued and marked done when "
        "acknowledged, so a bridge killed and restarted sends again what was not acknowledged (a "
        "subscriber may see some twice). A lost link is reopened with backoff while the MQTT side stays "
        "up, and the status topic says link down meanwhile.\n\n"
        "The client id defaults to bridge-HOST-LINKNAME, stable across restarts. Every option can come "
        "from --config FILE (long option names as keys).",
        {{"bridge 'serial:/dev/ttyUSB0?baud=9600' mqtt://localhost -t 'plant/line1/{dir}' --whole",
          "Publish every line from a serial device as a record."},
         {"bridge serial:/dev/ttyUSB1 mqtt://broker --framing modbus-rtu --map meter.toml --on-change",
          "Poll Modbus devices from a register map; publish values when they change."},
         {"bridge tcp://10.0.0.7:502 mqtt://broker --framing modbus-tcp -t gw/up --command-topic gw/cmd "
          "--reply-topic gw/reply",
          "Forward Modbus requests published on gw/cmd to a device and its answers to gw/reply."},
         {"bridge 'serial:/dev/ttyUSB1?baud=19200' mqtt://broker --framing modbus-rtu --map meter.toml "
          "--modbus-server tcp-listen://0.0.0.0:502",
          "Poll and publish, and let SCADA masters reach the same RS-485 bus over Modbus TCP."},
         {"bridge 'serial:/dev/ttyUSB1?baud=19200' mqtt://broker --framing modbus-rtu --map meter.toml "
          "--sparkplug plant1/gateway7",
          "Publish the map's devices to a SCADA host as Sparkplug B edge node gateway7 of group plant1."},
         {"bridge 'serial:/dev/ttyUSB0?baud=9600' coap://10.0.0.5/sensors/{dir} --method PUT",
          "Send every line from a serial device to a CoAP server, one PUT each."},
         {"bridge pty:/tmp/dev mqtt://localhost/dev/up --persist /var/lib/m2m-bridge",
          "Keep unacknowledged messages on disk across restarts."}}};
    doc.libraries = &m2m::mqtt_client_version;
    CLI::App app;
    m2m::cli::completes(app.add_option("LINK", args.link,
                                       "The link: serial:PATH?baud=N, pty:[PATH], tcp://HOST:PORT, "
                                       "tcp-listen://:PORT, udp://HOST:PORT, udp-listen://:PORT")
                            ->required(),
                        "link");
    m2m::add_mqtt_options(app, args.mqtt, "publish to and take commands from");
    const char* u = "Uplink";
    app.add_option("-t,--topic", args.topic,
                   "Uplink topic, a template over record fields: plant/{dev}/{dir} (default: BROKER's topic; "
                   "with --map m2m/{device}/{name})")
        ->group(u);
    m2m::cli::choices(app.add_option("-q,--qos", args.qos, "QoS of uplink, reply and polled messages"),
                      {"0", "1", "2"})
        ->capture_default_str()
        ->group(u);
    app.add_flag("-r,--retain", args.retain, "Retain uplink and polled messages")->group(u);
    app.add_option("--set", args.set,
                   "Add the field KEY=VALUE to every uplink record and polled value (repeatable), over a "
                   "field of the same name; seen by the topic template; VALUE is JSON when it reads as JSON, "
                   "else a string")
        ->option_text("KEY=VALUE")
        ->group(u);
    app.add_flag("--whole", args.whole, "Publish each frame's whole record (JSON), not its bytes")->group(u);
    m2m::cli::choices(app.add_option("--payload", args.payload, "How --whole records show the frame's bytes"),
                      {"auto", "text", "json", "hex", "b64"})
        ->capture_default_str()
        ->group(u);
    const char* d = "Downlink";
    app.add_option("--command-topic", args.command_topic,
                   "Filter whose messages are written to LINK as frames ($share/GROUP/... allowed)")
        ->group(d);
    app.add_option("--reply-topic", args.reply_topic, "Publish the device's answer to each command here")
        ->group(d);
    app.add_option("--reply-timeout", args.reply_timeout, "How long a command or poll waits for its answer")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(d);
    const char* m = "Modbus polling";
    m2m::cli::completes(app.add_option("--map", args.map, "Register map (TOML) of the devices to poll"),
                        "file")
        ->group(m);
    app.add_option("--poll", args.poll, "Poll interval for devices without their own")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(m);
    app.add_flag("--on-change", args.on_change, "Publish a polled value only when it changed")->group(m);
    app.add_option("--sparkplug", args.sparkplug,
                   "Publish the map's devices as Sparkplug B edge node NODE of group GROUP (births, DDATA on "
                   "change, NDEATH as the will, DCMD writes)")
        ->option_text("GROUP/NODE")
        ->group(m);
    app.add_option("--retries", args.retries,
                   "Send a poll read again this many times when no good answer comes")
        ->check(CLI::Range(0, 10))
        ->capture_default_str()
        ->group(m);
    app.add_option("--modbus-server", args.modbus_server,
                   "Serve Modbus TCP masters on tcp-listen://HOST:PORT: their requests go to LINK's devices "
                   "between the bridge's own polls")
        ->option_text("URI")
        ->group(m);
    app.add_option("--turnaround", args.turnaround,
                   "Quiet time after each exchange, beyond the 3.5 characters Modbus RTU needs")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(m);
    const char* s = "Status and buffering";
    app.add_option("--status-topic", args.status_topic,
                   "Retained status topic (default m2m/bridge/CLIENT-ID)")
        ->group(s);
    app.add_option("--stats-interval", args.stats_interval,
                   "Publish counters on STATUS/stats this often (0: never)")
        ->option_text("DUR")
        ->capture_default_str()
        ->group(s);
    app.add_option("--buffer", args.buffer,
                   "Uplink messages held while the broker is away; then the oldest are dropped")
        ->check(m2m::cli::at_least_one())
        ->capture_default_str()
        ->group(s);
    app.add_option("--buffer-bytes", args.buffer_bytes, "Bytes of uplink messages held at most")
        ->check(m2m::cli::at_least_one())
        ->capture_default_str()
        ->group(s);
    m2m::cli::completes(
        app.add_option("--persist", args.persist,
                       "Journal uplink messages in DIR until acknowledged (survives a restart)"),
        "file")
        ->group(s);
    m2m::add_persist_sync_option(app, args.persist_sync)->group(s);
    m2m::add_max_inflight_option(app, args.max_inflight, args.max_inflight_qos2)->group(s);
    m2m::cli::choices(app.add_option("--method", args.method,
                                     "A CoAP uplink's requests (BROKER coap:// or coaps://): POST or PUT"),
                      {"POST", "PUT"})
        ->capture_default_str()
        ->group(u);
    m2m::cli::add_psk_options(app, args.psk_identity, args.psk_key_file);
    m2m::cli::add_framing_options(app, args.framing);
    m2m::cli::add_no_lock_option(app);
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_bridge(args); });
}
