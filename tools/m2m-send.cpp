// m2m-send: read records (or bare lines) on stdin, frame them and write them to a link.
#include "apps/send/send.hpp"
#include "cli/tool.hpp"

int main(int argc, char** argv) {
    m2m::SendArgs args;
    m2m::cli::ToolDoc doc{
        "m2m-send",
        "write records from stdin to a serial port, pty or TCP/UDP link as frames",
        "m2m-send reads records (JSON Lines) on stdin, takes each one's payload (text as UTF-8, json "
        "compacted, hex and b64 decoded to bytes), frames it with the chosen framing and writes it to "
        "LINK. With --raw each input line is the payload as it is.\n\n"
        "A line that is not a valid record, or whose payload the framing cannot carry, is reported on "
        "stderr with its line number, counted and skipped; --strict makes it fatal (exit 3). Writes are "
        "complete or reported: m2m-send exits 0 only when every frame has left, and a link lost "
        "mid-stream with --no-reconnect is exit 1 with the number of frames that went out. By default a "
        "lost link is reopened and the frame it cut is sent again, whole.\n\n"
        "--interval paces the frames. --reply turns m2m-send into a poller and a test: after each frame it "
        "waits up to --reply-timeout for the whole reply and prints its frames as records (dir \"rx\"), each "
        "with reply_to (the request's seq, else its line number) and the request's own fields (name and any "
        "other; not expect). A reply is whole "
        "at its first frame, or at the frame --until REGEX matches, or after --reply-gap of silence; a "
        "Modbus reply is one frame; with --framing at, a reply ends at its final result code (OK, ERROR...) "
        "or --until, and unsolicited result codes (RING, +CREG: ...) are never part of it. Frames that come "
        "while no request waits, and half a frame still held when the next request goes, are printed with "
        "\"unsolicited\":true and never taken as a reply. The human view (--format human) marks each frame "
        "re:N or unsolicited.\n\n"
        "The run is judged: exit 0 only when every request got its whole reply and every reply was right; "
        "124 when a reply did not come in time; 5 when the device answered wrongly: a Modbus exception, an "
        "AT final result code for failure (ERROR, +CME ERROR, +CMS ERROR, NO CARRIER, BUSY, NO ANSWER), or "
        "a reply that does not meet the request's \"expect\" (a regular expression one frame must match; "
        "for Modbus an object such as {\"regs\":[1,2]} whose fields the reply must have). Every failure "
        "is named on stderr by the request's line number and name; all requests still go, and the first "
        "failure's code is the exit status.\n\n"
        "Modbus values: a modbus object with \"type\" (int16, uint16, int32, uint32, int64, uint64, float32, "
        "float64, string:N for N bytes) reads \"count\" values of that type (default 1) and its reply gets "
        "\"values\" beside \"regs\"; \"order\" is ABCD (the default), CDAB, BADC or DCBA (register order, "
        "then bytes in each register: mbpoll's -B is ABCD, its default CDAB); \"scale\" and \"offset\" give "
        "value = raw * scale + offset, printed with the decimals they imply (or \"decimals\": N). With a "
        "type, fc 16 writes \"values\": [...] and fc 6 one \"value\", scale and offset undone: "
        "{\"modbus\":{\"fc\":16,\"addr\":8,\"type\":\"float32\",\"values\":[230.5]}}.",
        {{"echo '{\"text\":\"AT\"}' | m2m-send serial:/dev/ttyUSB0 --framing crlf --reply",
          "Send AT to a modem and print its answer."},
         {"printf 'hello\\nworld\\n' | m2m-send pty:/tmp/dev0 --raw",
          "Offer two lines on a virtual serial device."},
         {"echo '{\"modbus\":{\"unit\":1,\"fc\":3,\"addr\":0,\"count\":4}}' | "
          "m2m-send 'serial:/dev/ttyUSB0?baud=9600' --framing modbus-rtu --reply",
          "Read four holding registers from Modbus unit 1 and print the decoded response."},
         {"echo "
          "'{\"modbus\":{\"fc\":3,\"addr\":2,\"type\":\"float32\",\"order\":\"CDAB\"},\"name\":\"volts\"}' | "
          "m2m-send 'serial:/dev/ttyUSB0?baud=9600' --framing modbus-rtu --reply",
          "Read a float (low word first, as mbpoll -t 4:float); the reply holds \"values\":[230.5]."},
         {"m2m-send 'serial:/dev/ttyUSB0?baud=19200' --framing modbus-rtu --scan 1-247",
          "Find which Modbus units answer on an RS-485 bus."},
         {"m2m-listen serial:/dev/ttyUSB0 | m2m-send tcp://127.0.0.1:9000 --framing slip",
          "Forward every frame from a serial port to a TCP peer as SLIP."}}};
    CLI::App app;
    m2m::cli::add_link_options(app, args.link, "write to", true);
    app.add_flag("-l,--raw", args.raw, "Each stdin line is a payload as it is, not a record")->group("Input");
    app.add_option("--max-line", args.max_line,
                   "Longest input line in bytes; longer ones are reported and skipped")
        ->capture_default_str()
        ->group("Input");
    app.add_option("--interval", args.interval, "Wait DUR between frames (250ms, 1s)")
        ->option_text("DUR")
        ->group("Input");
    app.add_flag("--reply", args.reply, "After each frame, wait for one frame back and print it as a record")
        ->group("Reply");
    app.add_option("--reply-timeout", args.reply_timeout,
                   "How long --reply waits for a whole reply; none in time is exit 124 at the end (the next "
                   "request still goes)")
        ->option_text("DUR")
        ->capture_default_str()
        ->group("Reply");
    app.add_option("--reply-gap", args.reply_gap,
                   "A reply is whole after DUR of silence following its last frame (default: at its first "
                   "frame; a Modbus reply is one frame; --until REGEX: at the frame it matches)")
        ->option_text("DUR")
        ->group("Reply");
    m2m::cli::completes(
        app.add_option("--junit", args.junit,
                       "Write a JUnit XML report to FILE: one testcase per request (named by its "
                       "name field, else its text), failures with what was expected and what came "
                       "back (needs --reply)"),
        "file")
        ->option_text("FILE")
        ->group("Reply");
    app.add_option("--scan", args.scan,
                   "Find the Modbus units that answer: one read per unit id in UNITS (1-247, 1,5,9-12), "
                   "each waiting --reply-timeout (100ms unless given); records, or a table on a terminal")
        ->option_text("UNITS")
        ->group("Modbus");
    app.add_option("--break", args.brk,
                   "Hold a serial line in break (space) for DUR before the first frame, as LIN and DMX "
                   "senders and some bootloaders need")
        ->option_text("DUR")
        ->group("Link");
    m2m::cli::add_framing_options(app, args.framing);
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "frames sent");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] {
        if (args.scan.empty()) return m2m::run_send(args);
        if (app.get_option("--reply-timeout")->count() == 0)
            args.reply_timeout = "100ms"; // a scan is many waits
        return m2m::run_scan(args);
    });
}
