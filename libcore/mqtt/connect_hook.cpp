// Paho MQTT C 1.3.12's synchronous client starts a non-blocking connect(2) and then learns that
// it finished only when a 100 ms poll for *input* on the socket times out: every connection
// costs 100 ms before CONNECT is even sent (mosquitto_pub needs 3 ms for a whole publish). The
// fix belongs in Paho; until then this file defines connect(2) for the process. It calls the
// C library's connect and, only while MQTTClient::connect() holds an Arm on this thread, waits
// for a pending connect to finish (poll for POLLOUT, bounded by the connect timeout) and
// returns its result, so Paho takes the "connected at once" path and sends CONNECT directly.
// Every other connect in the process passes straight through. TLS connections are not
// completed here (only their socket is noted): when the TLS handshake also finishes inside
// Paho's first SSL_connect, which a quick broker allows, Paho 1.3.12 reports a failure.
#include "mqtt/connect_hook.hpp"
#include <cerrno>
#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>

namespace {

struct State {
    bool armed = false;
    bool complete = true;
    int timeout_ms = 0;
    int fd = -1;
    int error = 0;
};
thread_local State state;

using ConnectFn = int (*)(int, const sockaddr*, socklen_t);

ConnectFn real_connect() {
    static ConnectFn fn = reinterpret_cast<ConnectFn>(dlsym(RTLD_NEXT, "connect"));
    return fn;
}

} // namespace

extern "C" int connect(int fd, const sockaddr* addr, socklen_t len) {
    int rc = real_connect()(fd, addr, len);
    if (!state.armed) return rc;
    if (!state.complete) {
        if (rc == 0 || errno == EINPROGRESS) state.fd = fd;
        return rc;
    }
    if (rc < 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n;
        do
            n = ::poll(&p, 1, state.timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            state.error = ETIMEDOUT;
            errno = ETIMEDOUT;
            return -1;
        }
        int err = 0;
        socklen_t elen = sizeof err;
        if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) err = errno;
        if (err) {
            state.error = err;
            errno = err;
            return -1;
        }
        rc = 0;
    } else if (rc < 0) {
        state.error = errno;
    }
    if (rc == 0) state.fd = fd, state.error = 0;
    return rc;
}

namespace m2m::paho_hook {

Arm::Arm(int timeout_ms, bool complete) { state = State{true, complete, timeout_ms, -1, 0}; }
Arm::~Arm() { state.armed = false; }
int Arm::fd() const { return state.fd; }
int Arm::error() const { return state.error; }

} // namespace m2m::paho_hook
