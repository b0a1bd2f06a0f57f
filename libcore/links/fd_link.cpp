#include "links/fd_link.hpp"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace m2m {

void FdLink::close() {
    if (fd_ >= 0 && owns_fd_) ::close(fd_);
    fd_ = -1;
}

ReadResult FdLink::read(std::string& out, size_t max) {
    size_t at = out.size();
    out.resize(at + max);
    ssize_t n = ::read(fd_, out.data() + at, max);
    int err = errno;
    out.resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) return {ReadStatus::data, {}};
    if (n == 0) return on_eof();
    if (err == EAGAIN || err == EINTR) return {ReadStatus::would_block, {}};
    return {ReadStatus::lost, std::strerror(err)};
}

Expected<size_t> FdLink::write(std::string_view bytes) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EINTR) return 0;
    return fail(Exit::runtime, std::strerror(errno));
}

size_t FdLink::pending_out() const {
    int n = 0;
    if (fd_ < 0 || ioctl(fd_, TIOCOUTQ, &n) < 0 || n < 0) return 0;
    return static_cast<size_t>(n);
}

std::string describe_errno(int err) {
    switch (err) {
    case EACCES:
        return "permission denied (are you in group dialout?)";
    case ENOENT:
        return "no such device or file";
    case EBUSY:
        return "device busy (another program has it open)";
    case ECONNREFUSED:
        return "connection refused (nothing listens there)";
    case EADDRINUSE:
        return "address already in use";
    default:
        return std::strerror(err);
    }
}

namespace {

/// stdin/stdout ("-") and files ("file:PATH"): input ends at EOF, nothing to reconnect.
class StreamLink final : public FdLink {
  public:
    StreamLink(const Uri& uri, LinkRole role) : uri_(uri), role_(role) { name_ = uri.text; }
    Status open() override {
        if (uri_.scheme == "stdio") {
            fd_ = role_ == LinkRole::write ? STDOUT_FILENO : STDIN_FILENO;
            owns_fd_ = false;
            // stdin is the caller's: it stays blocking (O_NONBLOCK would change it for every
            // process that shares it), so a pipe or terminal is read once per poll wake-up, never
            // twice in a row (the second read would block the loop: no keepalive, no signals).
            struct stat st {};
            int flags = fcntl(fd_, F_GETFL);
            once_per_wake_ =
                flags >= 0 && !(flags & O_NONBLOCK) && fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode);
        } else {
            int flags = role_ == LinkRole::read    ? O_RDONLY
                        : role_ == LinkRole::write ? O_WRONLY | O_CREAT | O_TRUNC
                                                   : O_RDWR;
            fd_ = ::open(uri_.path.c_str(), flags | O_CLOEXEC, 0644);
            if (fd_ < 0)
                return fail(Exit::unavailable,
                            fmt::format("cannot open {}: {}", uri_.path, describe_errno(errno)));
        }
        return {};
    }
    bool reconnectable() const override { return false; }
    ReadResult read(std::string& out, size_t max) override {
        auto r = FdLink::read(out, max);
        if (once_per_wake_ && r.status == ReadStatus::data) r.status = ReadStatus::would_block;
        return r;
    }
    /// A reader that went away (m2m-send - | head -1) ends the run as done, not failed: "a closed
    /// output pipe is not an error".
    Expected<size_t> write(std::string_view bytes) override {
        ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n >= 0) return static_cast<size_t>(n);
        if (errno == EAGAIN || errno == EINTR) return 0;
        if (errno == EPIPE) return fail(Exit::ok, "output closed");
        return fail(Exit::runtime, std::strerror(errno));
    }

  protected:
    ReadResult on_eof() override { return {ReadStatus::eof, {}}; }

  private:
    Uri uri_;
    LinkRole role_;
    bool once_per_wake_ = false;
};

} // namespace

std::unique_ptr<Link> make_stream_link(const Uri& uri, LinkRole role) {
    return std::make_unique<StreamLink>(uri, role);
}

} // namespace m2m
