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
        "--interval paces the frames. --reply turns m2m-send into a poller: after each frame it waits "
        "up to --reply-timeout for a frame back and prints it as a record (dir \"rx\").",
        {{"echo '{\"text\":\"AT\"}' | m2m-send serial:/dev/ttyUSB0 --framing crlf --reply",
          "Send AT to a modem and print its answer."},
         {"printf 'hello\\nworld\\n' | m2m-send pty:/tmp/dev0 --raw",
          "Offer two lines on a virtual serial device."},
         {"echo '{\"modbus\":{\"unit\":1,\"fc\":3,\"addr\":0,\"count\":4}}' | "
          "m2m-send 'serial:/dev/ttyUSB0?baud=9600' --framing modbus-rtu --reply",
          "Read four holding registers from Modbus unit 1 and print the decoded response."},
         {"m2m-listen serial:/dev/ttyUSB0 | m2m-send tcp://127.0.0.1:9000 --framing slip",
          "Forward every frame from a serial port to a TCP peer as SLIP."}}};
    CLI::App app;
    m2m::cli::add_link_options(app, args.link, "write to", true);
    app.add_flag("-r,--raw", args.raw, "Each stdin line is a payload as it is, not a record")->group("Input");
    app.add_option("--max-line", args.max_line,
                   "Longest input line in bytes; longer ones are reported and skipped")
        ->capture_default_str()
        ->group("Input");
    app.add_option("-i,--interval", args.interval, "Wait DUR between frames (250ms, 1s)")
        ->option_text("DUR")
        ->group("Input");
    app.add_flag("--reply", args.reply, "After each frame, wait for one frame back and print it as a record")
        ->group("Reply");
    app.add_option("--reply-timeout", args.reply_timeout, "How long --reply waits before moving on (counted)")
        ->option_text("DUR")
        ->capture_default_str()
        ->group("Reply");
    m2m::cli::add_framing_options(app, args.framing);
    m2m::cli::add_output_options(app, args.output);
    m2m::cli::add_limit_options(app, args.limits, "frames sent");
    m2m::cli::add_common_options(app, args.common);
    return m2m::cli::run_tool(app, doc, args.common, argc, argv, [&] { return m2m::run_send(args); });
}
