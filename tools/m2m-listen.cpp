// m2m-listen: decode frames from a serial port, pty, TCP/UDP link or file, one record per frame.
#include "apps/listen/listen.hpp"
#include "cli/tool.hpp"

int main(int argc, char** argv) {
    m2m::ListenArgs args;
    m2m::cli::ToolDoc doc{
        "m2m-listen",
        "decode frames from a serial port, pty or TCP/UDP link and print one record per frame",
        "m2m-listen opens LINK, cuts the bytes it receives into frames with the chosen framing, and "
        "prints one record per frame: JSON Lines when stdout is a pipe or file, a human view (time, "
        "source, text or hexdump, colour) on a terminal.\n\n"
        "Each record has ts (when the frame was received, RFC 3339 with microseconds), src (the "
        "link), dir (\"rx\"), seq (1, 2, 3 ...) and the payload: text when the frame is printable "
        "UTF-8, else hex (--payload chooses). A frame cut at --max-frame is kept with an err field; "
        "bytes a decoder had to drop are counted by cause and shown by --stats.\n\n"
        "When the device goes away (a USB adapter unplugged, the program behind a pty gone, a TCP peer "
        "closed), m2m-listen reopens it with backoff until it is back; --no-reconnect exits 1 instead. "
        "A device absent at start is exit 4.\n\n"
        "With -I, m2m-listen is a console: what you type goes to the device through the framing's "
        "encoder when you press Enter (editing, history with the arrow keys, escapes \\r \\n \\t "
        "\\xHH for any byte; --keys sends each keystroke as typed), and is shown as tx beside what "
        "comes back. Ctrl-T (--menu-key) then a key: ? help, q quit, b break, d/r toggle DTR/RTS, D/R "
        "pulse them, l line status, B baud, x hex view, t timestamps, e local echo, c clear. Ctrl-C on "
        "an empty line quits (exit 130), Ctrl-D too (exit 0). The terminal is given back as it was on "
        "every way out. A device unplugged during the session is reopened and the session goes on. "
        "--log FILE keeps both directions as JSON Lines; --records FILE shows them again.",
        {{"m2m-listen serial:/dev/ttyUSB0?baud=9600 --framing crlf",
          "Print the lines a 9600-baud device sends."},
         {"m2m-listen pty:/tmp/dev0 --framing slip",
          "Create a virtual serial device at /tmp/dev0 and decode SLIP "
          "frames written to it."},
         {"m2m-listen serial:/dev/ttyUSB0 --until 'READY' --timeout 10s",
          "Wait for a device to say READY: exit 0 when it does, 124 after 10 s."},
         {"m2m-listen tcp://192.0.2.10:4001 --framing idle:20 --format hex",
          "Hex frames from a serial server, "
          "a frame ending at 20 ms of silence."},
         {"m2m-listen -I serial:/dev/ttyUSB0 --framing at --log modem.jsonl",
          "Talk to a modem, keeping a log of both directions."},
         {"m2m-listen --records capture.jsonl --format human",
          "Show a saved capture as the live session showed it."},
         {"m2m-listen --list", "List the serial ports with their USB identities."}}};
    CLI::App app;
    m2m::cli::add_link_options(app, args.link, "listen on", false);
    app.add_flag("--list", args.list,
                 "List serial ports (by-id path, VID:PID, serial number, manufacturer, "
                 "product) and exit")
        ->group("Link");
    m2m::cli::completes(
        app.add_option("--records", args.records,
                       "Show saved records (a file m2m-listen, m2m-send or --log wrote; - for stdin) "
                       "instead of a link: the human view prints the screen the live session did")
            ->option_text("FILE")
            ->group("Link"),
        "file");
    const char* c = "Console";
    app.add_flag("-I,--interactive", args.interactive,
                 "The console: type to the device (a line at a time, with editing and history) while what "
                 "it sends is shown; the menu key opens break, DTR/RTS, baud, hex view, timestamps, "
                 "echo, quit")
        ->group(c);
    app.add_flag("--keys", args.keys,
                 "With -I: send each keystroke as it is typed (no line editing, no framing), as tio does")
        ->group(c);
    app.add_option("--menu-key", args.menu_key, "With -I: the key that opens the menu (ctrl-t, or ^A ...)")
        ->capture_default_str()
        ->group(c);
    app.add_option(
           "--map", args.map,
           "Line-ending maps, comma-separated (tio's names): ICRNL IGNCR INLCR INLCRNL change what is "
           "received; OCRNL ONLCRNL OLTU ODELBS what -i sends")
        ->option_text("MAPS")
        ->group(c);
    m2m::cli::add_framing_options(app, args.framing);
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "frames");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_listen(args); });
}
