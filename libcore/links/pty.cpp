// pty: links create a pseudo-terminal: a virtual serial device another program opens at the
// printed path (or at the symlink the URI names). We keep the device side open ourselves, so the
// link survives the other program closing and reopening it, as a real port would.
#include "links/fd_link.hpp"
#include "links/serial.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace m2m {

namespace {

class PtyLink final : public FdLink {
  public:
    PtyLink(const Uri& uri, SerialSettings s) : link_path_(uri.path), settings_(std::move(s)) {
        name_ = "pty:" + link_path_;
    }
    ~PtyLink() override { PtyLink::close(); }

    Status open() override {
        fd_ = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        char name[PATH_MAX] = {};
        if (fd_ < 0 || grantpt(fd_) < 0 || unlockpt(fd_) < 0 || ptsname_r(fd_, name, sizeof name) != 0) {
            int err = errno;
            close();
            return fail(Exit::unavailable, fmt::format("cannot create a pty: {}", describe_errno(err)));
        }
        device_ = name;
        device_fd_ = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (device_fd_ < 0 || !configure_termios(device_fd_, settings_)) {
            close();
            return fail(Exit::unavailable, fmt::format("cannot open the pty device {}", device_));
        }
        if (link_path_.empty()) {
            name_ = "pty:" + device_;
            log::note("pty device at {}", device_);
            return {};
        }
        struct stat st {};
        if (lstat(link_path_.c_str(), &st) == 0) {
            if (!S_ISLNK(st.st_mode)) {
                close();
                return fail(Exit::usage,
                            fmt::format("{} exists and is not a symlink; not replacing it", link_path_));
            }
            ::unlink(link_path_.c_str());
        }
        if (symlink(device_.c_str(), link_path_.c_str()) < 0) {
            int err = errno;
            close();
            return fail(Exit::unavailable,
                        fmt::format("cannot link {}: {}", link_path_, describe_errno(err)));
        }
        log::note("pty device at {} (linked from {})", device_, link_path_);
        return {};
    }

    void close() override {
        if (!link_path_.empty() && !device_.empty()) {
            char target[PATH_MAX] = {};
            ssize_t n = readlink(link_path_.c_str(), target, sizeof target - 1);
            if (n > 0 && device_ == std::string(target, static_cast<size_t>(n))) ::unlink(link_path_.c_str());
        }
        if (device_fd_ >= 0) ::close(device_fd_);
        device_fd_ = -1;
        device_.clear();
        FdLink::close();
    }

    /// What the program on the device side has not read yet.
    size_t pending_out() const override {
        int n = 0;
        if (device_fd_ < 0 || ioctl(device_fd_, FIONREAD, &n) < 0 || n < 0) return 0;
        return static_cast<size_t>(n);
    }

    int quiet_readings() const override { return 3; }
    int tty_fd() const override { return device_fd_; }

  private:
    std::string link_path_;
    SerialSettings settings_;
    std::string device_;
    int device_fd_ = -1;
};

} // namespace

std::unique_ptr<Link> make_pty_link(const Uri& uri, SerialSettings settings) {
    return std::make_unique<PtyLink>(uri, std::move(settings));
}

} // namespace m2m
