#include "mqttwire/transport.hpp"
#include "mqttwire/tls.hpp"
#include "mqttwire/websocket.hpp"
#include "mqttwire/wire.hpp"
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace m2m::wire {

namespace {

constexpr size_t max_frame = 256 * 1024; // the most of the caller's bytes one WebSocket frame holds
constexpr size_t max_head = 16384;       // the most an upgrade answer's header may take

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// One buffer for every read: the process is one thread, and a read's bytes are consumed
/// (decoded, or copied into the decoder) before the next.
char* read_buffer() {
    static auto* buf = new char[Transport::read_size];
    return buf;
}

} // namespace

struct Transport::Ws {
    std::string key;  // Sec-WebSocket-Key, until the answer is checked
    std::string head; // the request still to go, then the answer as it comes
    WsReader reader;
    std::string early; // MQTT bytes that came with the answer, for the first read()
    std::string frame; // the frame being written: `chunk` of the caller's bytes, or pongs
    size_t frame_off = 0, chunk = 0;
    std::string control; // pongs owed
    std::string data;    // MQTT bytes unwrapped from one read
};

Transport::Transport() = default;
Transport::~Transport() {
    close();
}

void Transport::open(int fd, const TlsContext* tls, TransportOptions o) {
    close();
    fd_ = fd;
    why_.clear();
    if (tls) tls_ = tls->stream(fd_, o.host);
    phase_ = tls ? Phase::tls : o.websocket ? Phase::ws_send : Phase::open;
    if (o.websocket) {
        ws_ = std::make_unique<Ws>();
        ws_->key = ws_key();
        ws_->head = ws_request(o.host, o.port, tls != nullptr, o.ws_path, ws_->key);
    }
}

void Transport::close() {
    tls_.reset();
    ws_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    phase_ = Phase::open;
}

long Transport::lost(std::string why) {
    why_ = std::move(why);
    return -1;
}

std::string Transport::timeout_text() const {
    switch (phase_) {
    case Phase::tls:
        return "TLS: no handshake within the connect timeout";
    case Phase::ws_send:
        return "WebSocket: the server does not read (timed out)";
    case Phase::ws_recv:
        return "WebSocket: no answer to the upgrade within the connect timeout";
    case Phase::open:
        break;
    }
    return "timed out";
}

Transport::Step Transport::handshake() {
    if (phase_ == Phase::tls) {
        switch (tls_->handshake()) {
        case TlsStream::Io::done:
            phase_ = ws_ ? Phase::ws_send : Phase::open;
            break;
        case TlsStream::Io::want_read:
            return Step::want_read;
        case TlsStream::Io::want_write:
            return Step::want_write;
        default: {
            std::string e = tls_->error();
            lost(e.rfind("TLS", 0) == 0 ? e : "TLS: " + e);
            return Step::failed;
        }
        }
    }
    if (phase_ == Phase::ws_send) {
        auto& head = ws_->head; // what of the request is still to go
        while (!head.empty()) {
            long put = raw_write(head.data(), head.size());
            if (put < 0) return Step::failed;
            if (put == 0) return Step::want_write;
            head.erase(0, static_cast<size_t>(put));
        }
        phase_ = Phase::ws_recv; // `head` gathers the answer now
    }
    if (phase_ == Phase::ws_recv) {
        auto& head = ws_->head;
        size_t end;
        while ((end = head.find("\r\n\r\n")) == std::string::npos) {
            if (head.size() > max_head) {
                lost("WebSocket: the server's answer has no end of header in 16 KiB");
                return Step::failed;
            }
            long got = raw_read(read_buffer(), read_size);
            if (got < 0) {
                why_ = "WebSocket: " + why_ + " before answering the upgrade";
                return Step::failed;
            }
            if (got == 0) return Step::want_read;
            head.append(read_buffer(), static_cast<size_t>(got));
        }
        if (auto st = ws_check_response(std::string_view(head).substr(0, end + 4), ws_->key); !st) {
            lost(st.error().message);
            return Step::failed;
        }
        if (head.size() > end + 4) { // the broker's first frames came with the header
            auto ev = ws_->reader.feed(std::string_view(head).substr(end + 4), ws_->early, ws_->control);
            if (!ev) {
                lost(ev.error().message);
                return Step::failed;
            }
        }
        head.clear();
        head.shrink_to_fit();
        ws_->key.clear();
        ws_->key.shrink_to_fit();
        phase_ = Phase::open;
    }
    return Step::done;
}

long Transport::raw_read(char* buf, size_t n) {
    if (tls_) {
        size_t got = 0;
        auto io = tls_->read(buf, n, got);
        if (io == TlsStream::Io::want_read || io == TlsStream::Io::want_write) return 0;
        if (io != TlsStream::Io::done) return lost(tls_->error());
        return static_cast<long>(got);
    }
    ssize_t r;
    do
        r = ::recv(fd_, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return lost(lower(std::strerror(errno)));
    }
    if (r == 0) return lost("the broker closed the connection");
    return static_cast<long>(r);
}

long Transport::raw_write(const char* buf, size_t n) {
    if (tls_) {
        size_t put = 0;
        auto io = tls_->write(buf, n, put);
        if (io == TlsStream::Io::want_read || io == TlsStream::Io::want_write) return 0;
        if (io != TlsStream::Io::done) return lost(tls_->error());
        return static_cast<long>(put);
    }
    for (;;) {
        ssize_t w = ::send(fd_, buf, n, MSG_NOSIGNAL);
        if (w >= 0) return static_cast<long>(w);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return lost(lower(std::strerror(errno)));
    }
}

long Transport::read(Decoder& dec) {
    if (fd_ < 0) return lost(why_.empty() ? "not connected" : why_);
    if (ws_ && !ws_->early.empty()) {
        dec.feed(ws_->early);
        ws_->early.clear();
    }
    long got = raw_read(read_buffer(), read_size);
    if (got <= 0) return got;
    std::string_view bytes(read_buffer(), static_cast<size_t>(got));
    if (!ws_) {
        dec.feed(bytes);
        return got;
    }
    auto ev = ws_->reader.feed(bytes, ws_->data, ws_->control);
    if (!ws_->data.empty()) dec.feed(ws_->data);
    ws_->data.clear();
    if (!ev) return lost(ev.error().message);
    if (*ev == WsReader::Event::close) return lost(ws_->reader.why);
    return got;
}

long Transport::write(std::string_view pending) {
    if (fd_ < 0) return lost(why_.empty() ? "not connected" : why_);
    if (!ws_) {
        size_t done = 0;
        while (done < pending.size()) {
            long put = raw_write(pending.data() + done, pending.size() - done);
            if (put < 0) return -1;
            if (put == 0) break;
            done += static_cast<size_t>(put);
        }
        return static_cast<long>(done);
    }
    auto& w = *ws_;
    size_t done = 0; // of `pending`, in frames written whole
    for (;;) {
        if (w.frame.empty()) { // the next frame: pongs first, then the caller's bytes
            if (!w.control.empty()) {
                w.frame.swap(w.control);
                w.chunk = 0;
            } else if (done < pending.size()) {
                w.chunk = std::min(pending.size() - done, max_frame);
                ws_frame(w.frame, ws_binary, pending.substr(done, w.chunk), ws_mask());
            } else {
                break;
            }
        }
        long put = raw_write(w.frame.data() + w.frame_off, w.frame.size() - w.frame_off);
        if (put < 0) return -1;
        if (put == 0) break;
        w.frame_off += static_cast<size_t>(put);
        if (w.frame_off == w.frame.size()) {
            w.frame.clear();
            w.frame_off = 0;
            done += w.chunk;
            w.chunk = 0;
        }
    }
    return static_cast<long>(done);
}

bool Transport::wants_write() const {
    return fd_ >= 0 && ws_ && (!ws_->frame.empty() || !ws_->control.empty());
}

} // namespace m2m::wire
