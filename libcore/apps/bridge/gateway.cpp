#include "apps/bridge/gateway.hpp"
#include "modbus/modbus.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace m2m {

ModbusGateway::ModbusGateway(EventLoop& loop, int listen_fd) : loop_(loop), listen_fd_(listen_fd) {
    listen_watch_ = loop_.watch(listen_fd_, POLLIN, [this](short) { accept_all(); });
}

ModbusGateway::~ModbusGateway() {
    for (auto& [id, c] : clients_)
        ::close(c.fd);
    ::close(listen_fd_);
}

void ModbusGateway::accept_all() {
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; // EAGAIN: all taken (or a transient error: the next wake-up tries again)
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint64_t id = next_id_++;
        Client& c = clients_[id];
        c.fd = fd;
        c.watch = loop_.watch(fd, POLLIN, [this, id](short ev) {
            if (ev & POLLOUT) flush(id);
            if (clients_.contains(id) && (ev & ~POLLOUT)) readable(id);
        });
        log::info("Modbus TCP master {} connected ({} now)", id, clients_.size());
    }
}

void ModbusGateway::readable(uint64_t id) {
    Client& c = clients_[id];
    char buf[4096];
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(id);
    if (n < 0) return;
    c.in.append(buf, static_cast<size_t>(n));
    size_t at = 0;
    while (c.in.size() - at >= 8) {
        modbus::Mbap h = modbus::read_mbap(std::string_view(c.in).substr(at));
        if (!h.plausible()) { // not Modbus TCP: this master is out of step
            ++bad_frames;
            log::warn("Modbus TCP master {}: not an MBAP header (protocol {}, length {}); closing", id,
                      h.protocol, h.length);
            return drop(id);
        }
        if (c.in.size() - at < modbus::mbap_size + h.length) break;
        std::string adu = c.in.substr(at + modbus::mbap_size, h.length);
        at += modbus::mbap_size + h.length;
        ++requests;
        if (on_request) on_request(id, h.tid, std::move(adu));
        if (!clients_.contains(id)) return;
    }
    clients_[id].in.erase(0, at);
}

void ModbusGateway::reply(uint64_t client, uint16_t tid, std::string_view adu) {
    ++answers;
    send_adu(client, tid, adu);
}

void ModbusGateway::send_adu(uint64_t client, uint16_t tid, std::string_view adu) {
    auto it = clients_.find(client);
    if (it == clients_.end()) return;
    modbus::append_mbap(it->second.out, tid, adu);
    flush(client);
}

void ModbusGateway::exception(uint64_t client, uint16_t tid, std::string_view request, int code) {
    ++exceptions;
    std::string adu{
        !request.empty() ? request[0] : '\0',
        static_cast<char>((request.size() >= 2 ? static_cast<unsigned char>(request[1]) : 0) | 0x80),
        static_cast<char>(code)};
    send_adu(client, tid, adu);
}

void ModbusGateway::flush(uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    Client& c = it->second;
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            return drop(id);
        }
        c.out.erase(0, static_cast<size_t>(n));
    }
    loop_.set_events(c.watch, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)));
}

void ModbusGateway::drop(uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    loop_.unwatch(it->second.watch);
    ::close(it->second.fd);
    clients_.erase(it);
    log::info("Modbus TCP master {} gone ({} left)", id, clients_.size());
}

} // namespace m2m
