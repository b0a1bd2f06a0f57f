// Raw socket links: tcp:// (client), tcp-listen:// (one peer at a time), udp://, udp-listen://.
#include "links/fd_link.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace m2m {

namespace {

struct AddrList {
    addrinfo* list = nullptr;
    ~AddrList() {
        if (list) freeaddrinfo(list);
    }
};

Status resolve(const Uri& uri, int socktype, bool passive, AddrList& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    const char* host = uri.host.empty() ? nullptr : uri.host.c_str();
    if (int rc = getaddrinfo(host, uri.port.c_str(), &hints, &out.list); rc != 0)
        return fail(Exit::unavailable, fmt::format("cannot resolve {}: {}", uri.host, gai_strerror(rc)));
    return {};
}

/// Connects (TCP) or binds (listeners) to the first address that works.
Expected<int> make_socket(const Uri& uri, int socktype, bool listen) {
    AddrList addrs;
    if (auto st = resolve(uri, socktype, listen, addrs); !st) return std::unexpected(st.error());
    int last_err = 0;
    for (addrinfo* a = addrs.list; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        if (listen) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && (socktype == SOCK_DGRAM || ::listen(fd, 4) == 0))
                return fd;
        } else {
            if (socktype == SOCK_STREAM) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            int rc = connect(fd, a->ai_addr, a->ai_addrlen);
            if (rc < 0 && errno == EINPROGRESS) {
                pollfd p{fd, POLLOUT, 0};
                int err = ETIMEDOUT;
                socklen_t len = sizeof err;
                if (::poll(&p, 1, 5000) == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                errno = err;
                rc = err ? -1 : 0;
            }
            if (rc == 0) return fd;
        }
        last_err = errno;
        ::close(fd);
    }
    return fail(Exit::unavailable, fmt::format("cannot {} {}: {}", listen ? "listen on" : "connect to",
                                               uri.text, describe_errno(last_err)));
}

class TcpLink final : public FdLink {
  public:
    explicit TcpLink(const Uri& uri) : uri_(uri) { name_ = uri.text; }
    Status open() override {
        auto fd = make_socket(uri_, SOCK_STREAM, false);
        if (!fd) return std::unexpected(fd.error());
        fd_ = *fd;
        return {};
    }

  private:
    Uri uri_;
};

/// Serves one peer at a time; when it leaves, the next one that connects takes its place.
class TcpListenLink final : public FdLink {
  public:
    explicit TcpListenLink(const Uri& uri) : uri_(uri) { name_ = uri.text; }
    ~TcpListenLink() override { TcpListenLink::close(); }
    Status open() override {
        auto fd = make_socket(uri_, SOCK_STREAM, true);
        if (!fd) return std::unexpected(fd.error());
        listen_fd_ = *fd;
        log::info("{}: listening", name_);
        return {};
    }
    void close() override {
        FdLink::close();
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
    }
    int fd() const override { return fd_ >= 0 ? fd_ : listen_fd_; }
    ReadResult read(std::string& out, size_t max) override {
        if (fd_ < 0) {
            fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd_ >= 0) log::info("{}: peer connected", name_);
            return {ReadStatus::would_block, {}};
        }
        auto r = FdLink::read(out, max);
        if (r.status == ReadStatus::lost) {
            log::info("{}: peer left ({}); waiting for the next", name_, r.why);
            FdLink::close();
            return {ReadStatus::would_block, {}};
        }
        return r;
    }
    Expected<size_t> write(std::string_view bytes) override {
        if (fd_ < 0) return 0; // no peer yet: wait for one
        return FdLink::write(bytes);
    }

  private:
    Uri uri_;
    int listen_fd_ = -1;
};

class UdpLink final : public FdLink {
  public:
    UdpLink(const Uri& uri, bool listen) : uri_(uri), listen_(listen) { name_ = uri.text; }
    Status open() override {
        auto fd = make_socket(uri_, SOCK_DGRAM, listen_);
        if (!fd) return std::unexpected(fd.error());
        fd_ = *fd;
        return {};
    }
    bool datagram() const override { return true; }
    ReadResult read(std::string& out, size_t max) override {
        size_t at = out.size();
        out.resize(at + max);
        peer_len_ = sizeof peer_;
        ssize_t n = recvfrom(fd_, out.data() + at, max, 0, reinterpret_cast<sockaddr*>(&peer_), &peer_len_);
        int err = errno;
        out.resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
        if (n >= 0) {
            have_peer_ = true;
            return {n > 0 ? ReadStatus::data : ReadStatus::would_block, {}};
        }
        // ECONNREFUSED: an earlier datagram found no listener; datagrams are not a connection.
        if (err == EAGAIN || err == EINTR || err == ECONNREFUSED) return {ReadStatus::would_block, {}};
        return {ReadStatus::lost, std::strerror(err)};
    }
    Expected<size_t> write(std::string_view bytes) override {
        ssize_t n;
        if (listen_) {
            if (!have_peer_)
                return fail(Exit::runtime,
                            "udp-listen: no peer has sent a datagram yet, so there is nowhere to send");
            n = sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&peer_), peer_len_);
        } else {
            n = send(fd_, bytes.data(), bytes.size(), 0);
        }
        if (n >= 0) return static_cast<size_t>(n);
        if (errno == EAGAIN || errno == EINTR) return 0;
        if (errno == ECONNREFUSED) return bytes.size(); // nobody listened: the datagram is gone, as UDP goes
        return fail(Exit::runtime, std::strerror(errno));
    }

  private:
    Uri uri_;
    bool listen_;
    sockaddr_storage peer_{};
    socklen_t peer_len_ = 0;
    bool have_peer_ = false;
};

} // namespace

Expected<int> listen_tcp(const Uri& uri) {
    auto fd = make_socket(uri, SOCK_STREAM, true);
    if (fd && ::listen(*fd, 64) != 0) { // a larger backlog: several masters may connect at once
        ::close(*fd);
        return fail(Exit::unavailable,
                    fmt::format("cannot listen on {}: {}", uri.text, describe_errno(errno)));
    }
    return fd;
}

std::unique_ptr<Link> make_socket_link(const Uri& uri) {
    if (uri.scheme == "tcp") return std::make_unique<TcpLink>(uri);
    if (uri.scheme == "tcp-listen") return std::make_unique<TcpListenLink>(uri);
    return std::make_unique<UdpLink>(uri, uri.scheme == "udp-listen");
}

} // namespace m2m
