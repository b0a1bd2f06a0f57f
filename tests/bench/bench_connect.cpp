// How many MQTT connections one process opens per second and holds, side by side: Paho's async
// client (MQTTAsync, its own threads) and a plain non-blocking socket client on libcore's own
// MQTT encoder (mqttwire). Decides loadgen's hot path. Bounded: N connections, a 60 s limit.
// Usage: bench_connect PORT N
#include "mqttwire/wire.hpp"
#include <MQTTAsync.h>
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Returns (connected, seconds).
std::pair<int, double> lean(int port, int n) {
    int ep = epoll_create1(0);
    std::vector<int> fds;
    std::vector<m2m::wire::Decoder> dec(static_cast<size_t>(n));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t0 = now();
    int ok = 0, pending = 0;
    auto pump = [&](int timeout_ms) {
        epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, timeout_ms);
        for (int i = 0; i < k; ++i) {
            int idx = static_cast<int>(evs[i].data.u32);
            int fd = fds[static_cast<size_t>(idx)];
            if (evs[i].events & EPOLLOUT) { // connected: send CONNECT
                std::string out;
                m2m::wire::Connect c;
                c.client_id = "lean-" + std::to_string(idx);
                m2m::wire::connect(out, c);
                if (write(fd, out.data(), out.size()) < 0) continue;
                epoll_event e{EPOLLIN, {}};
                e.data.u32 = static_cast<uint32_t>(idx);
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
                continue;
            }
            char buf[64];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                --pending;
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                continue;
            }
            auto& d = dec[static_cast<size_t>(idx)];
            d.feed(std::string_view(buf, static_cast<size_t>(r)));
            m2m::wire::Packet p;
            if (auto got = d.next(p); got && *got && p.type == m2m::wire::CONNACK) {
                --pending;
                if (p.return_code == 0) ++ok;
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
            }
        }
    };
    for (int i = 0; i < n; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fds.push_back(fd);
        epoll_event e{EPOLLOUT, {}};
        e.data.u32 = static_cast<uint32_t>(i);
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        ++pending;
        while (pending >= 64) // keep the broker's listen backlog from overflowing (SYN retries cost 1 s)
            pump(10);
    }
    while (pending > 0 && now() - t0 < 60)
        pump(100);
    double dt = now() - t0;
    for (int fd : fds)
        close(fd);
    close(ep);
    return {ok, dt};
}

std::mutex paho_mu;
std::condition_variable paho_cv;
int paho_ok = 0, paho_done = 0;

void paho_finished(bool ok) {
    std::lock_guard lock(paho_mu);
    paho_ok += ok;
    ++paho_done;
    paho_cv.notify_one();
}

std::pair<int, double> paho(int port, int n) {
    std::vector<MQTTAsync> clients(static_cast<size_t>(n));
    std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
    double t0 = now();
    for (int i = 0; i < n; ++i) {
        MQTTAsync_create(&clients[static_cast<size_t>(i)], uri.c_str(), ("paho-" + std::to_string(i)).c_str(),
                         MQTTCLIENT_PERSISTENCE_NONE, nullptr);
        MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
        o.keepAliveInterval = 60;
        o.cleansession = 1;
        o.onSuccess = [](void*, MQTTAsync_successData*) { paho_finished(true); };
        o.onFailure = [](void*, MQTTAsync_failureData*) { paho_finished(false); };
        MQTTAsync_connect(clients[static_cast<size_t>(i)], &o);
    }
    int ok;
    {
        std::unique_lock lock(paho_mu);
        paho_cv.wait_for(lock, std::chrono::seconds(60), [&] { return paho_done >= n; });
        ok = paho_ok;
    }
    double dt = now() - t0;
    for (auto& c : clients)
        MQTTAsync_destroy(&c);
    return {ok, dt};
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) return std::fprintf(stderr, "usage: bench_connect PORT N\n"), 2;
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int port = std::atoi(argv[1]), n = std::atoi(argv[2]);
    auto [pok, pdt] = paho(port, n); // first: the broker is not still closing the other's sockets
    auto [lok, ldt] = lean(port, n);
    std::printf("%-28s %8s %10s %12s\n", "client", "N", "connected", "connects/s");
    std::printf("%-28s %8d %10d %12.0f\n", "Paho MQTTAsync", n, pok, pok / pdt);
    std::printf("%-28s %8d %10d %12.0f\n", "non-blocking + mqttwire", n, lok, lok / ldt);
    std::printf("ratio mqttwire / Paho: %.1f\n", (lok / ldt) / (pok / pdt));
    return 0;
}
