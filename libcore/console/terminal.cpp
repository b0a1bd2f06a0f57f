#include "console/terminal.hpp"
#include <csignal>
#include <cstdlib>
#include <termios.h>
#include <unistd.h>

namespace m2m::console {

namespace {

// What a crash handler needs, kept where it can read it without locks or allocation.
int saved_fd = -1;
termios saved{};
volatile sig_atomic_t raw_now = 0;

void put_back() {
    if (raw_now) {
        tcsetattr(saved_fd, TCSAFLUSH, &saved);
        raw_now = 0;
    }
}

void on_crash(int signo) {
    put_back(); // tcsetattr is async-signal-safe
    signal(signo, SIG_DFL);
    raise(signo);
}

} // namespace

Status RawTerminal::enter(int fd) {
    termios t{};
    if (!isatty(fd) || tcgetattr(fd, &t) < 0)
        return fail(Exit::usage, "the console (-I) needs a terminal on stdin; pipe records into "
                                 "m2m-send instead");
    saved = t;
    saved_fd = fd_ = fd;
    static bool hooked = false;
    if (!hooked) {
        hooked = true;
        std::atexit(put_back);
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
            signal(sig, on_crash);
    }
    cfmakeraw(&t);
    t.c_oflag |= OPOST | ONLCR; // lines the console prints still start at the left
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSAFLUSH, &t) < 0) return fail(Exit::runtime, "cannot put the terminal in raw mode");
    raw_now = 1;
    return {};
}

void RawTerminal::restore() {
    if (fd_ < 0) return;
    put_back();
    fd_ = -1;
}

} // namespace m2m::console
