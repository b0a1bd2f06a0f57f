// The anchor of bench_connect.py: how fast Paho's async client (MQTTAsync, its own threads) opens
// N MQTT connections from one process, timed from the first connect call to the last CONNACK, as
// loadgen's summary times its own. Prints "CONNECTED SECONDS". Bounded: N connections, a 60 s limit.
// Usage: bench_connect PORT N
#include <MQTTAsync.h>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <sys/resource.h>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
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
    auto [ok, dt] = paho(port, n);
    std::printf("%d %.6f\n", ok, dt);
    return 0;
}
