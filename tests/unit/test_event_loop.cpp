// The event loop (loop/event_loop): deferred work yields to descriptors and signals, timers run
// in time order and can be cancelled, watches come and go, the signal mask is given back.
#include "loop/event_loop.hpp"
#include "util/clock.hpp"
#include <catch2/catch.hpp>
#include <csignal>
#include <functional>
#include <unistd.h>

using namespace m2m;

namespace {

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        r = fds[0], w = fds[1];
    }
    ~Pipe() {
        ::close(r);
        ::close(w);
    }
};

bool sigint_blocked() {
    sigset_t cur;
    sigprocmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, SIGINT) == 1;
}

} // namespace

TEST_CASE("event loop: a chain of 100,000 deferred callbacks does not starve a readable fd") {
    EventLoop loop;
    Pipe p;
    REQUIRE(::write(p.w, "x", 1) == 1);
    const int n = 100000;
    int links = 0, served_at = -1;
    std::function<void()> next = [&] {
        if (++links < n)
            loop.at(0, next);
        else
            loop.stop(Exit::ok);
    };
    loop.watch(p.r, POLLIN, [&](short) {
        char c;
        (void)::read(p.r, &c, 1);
        if (served_at < 0) served_at = links;
    });
    loop.at(0, next);
    CHECK(loop.run() == Exit::ok);
    CHECK(links == n);
    // the descriptor was served after the first link, not after the whole chain
    CHECK(served_at == 1);
    CHECK(loop.passes() >= static_cast<uint64_t>(n));
}

TEST_CASE("event loop: SIGINT stops a chain of deferred callbacks that never ends by itself") {
    {
        EventLoop loop;
        int links = 0;
        std::function<void()> next = [&] {
            if (++links == 1000) ::raise(SIGINT); // pending (blocked): read through the signalfd
            loop.at(0, next);
        };
        loop.at(0, next);
        CHECK(loop.run() == Exit::interrupted);
        CHECK(links == 1000); // the next pass's poll saw the signal before another link ran
    }
    CHECK_FALSE(sigint_blocked()); // and the mask is what it was before the loop
}

TEST_CASE("event loop: timers run in time order, a cancelled one never runs") {
    EventLoop loop;
    std::vector<int> order;
    int64_t t0 = mono_us();
    loop.at(t0 + 3000, [&] {
        order.push_back(3);
        loop.stop(Exit::ok);
    });
    int gone = loop.at(t0 + 2000, [&] { order.push_back(99); });
    loop.at(t0 + 1000, [&] { order.push_back(1); });
    loop.at(t0 + 1000, [&] { order.push_back(2); }); // same time: in the order made
    loop.cancel(gone);
    loop.cancel(gone); // twice is harmless
    loop.cancel(12345);
    CHECK(loop.run() == Exit::ok);
    CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("event loop: watches are added, paused, and removed while it runs") {
    EventLoop loop;
    Pipe a, b, c;
    for (int fd : {a.w, b.w, c.w})
        REQUIRE(::write(fd, "x", 1) == 1);
    int a_calls = 0, b_calls = 0, c_calls = 0;
    int wb = -1, wc = -1;
    int wa = loop.watch(a.r, POLLIN, [&](short) {
        ++a_calls;
        loop.unwatch(wb); // another watch, possibly ready in this same pass
    });
    wb = loop.watch(b.r, POLLIN, [&](short) { ++b_calls; });
    wc = loop.watch(c.r, POLLIN, [&](short) { ++c_calls; });
    loop.set_events(wc, 0); // paused: not polled, not called
    loop.at(mono_us() + 20000, [&] {
        loop.unwatch(wa);
        loop.set_events(wc, POLLIN);
        loop.at(mono_us() + 20000, [&] { loop.stop(Exit::ok); });
    });
    loop.run();
    CHECK(a_calls > 0);  // readable (never read) until unwatched
    CHECK(b_calls <= 1); // at most the pass before a's callback removed it
    CHECK(c_calls > 0);  // polled again once resumed
}

TEST_CASE("event loop: the first stop or fail decides how the run ended, with fail's reason") {
    {
        EventLoop loop;
        loop.at(0, [&] {
            loop.fail(Exit::bad_data, "line 3: not a record");
            loop.fail(Exit::runtime, "link lost"); // a later failure does not replace the first
            loop.stop(Exit::ok);
        });
        CHECK(loop.run() == Exit::bad_data);
        auto r = loop.result();
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Exit::bad_data);
        CHECK(r.error().message == "line 3: not a record");
    }
    {
        EventLoop loop;
        loop.at(0, [&] {
            loop.stop(Exit::timeout);
            loop.fail(Exit::runtime, "too late");
        });
        CHECK(loop.run() == Exit::timeout);
        auto r = loop.result();
        REQUIRE(r.has_value());
        CHECK(*r == Exit::timeout);
    }
}
