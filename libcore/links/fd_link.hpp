#pragma once
// Shared plumbing for links that are one file descriptor.
#include "links/link.hpp"

namespace m2m {

class FdLink : public Link {
  public:
    ~FdLink() override { FdLink::close(); }
    void close() override;
    int fd() const override { return fd_; }
    ReadResult read(std::string& out, size_t max) override;
    Expected<size_t> write(std::string_view bytes) override;
    size_t pending_out() const override;

  protected:
    /// What read() returning 0 means: end of input (files) or a lost peer (sockets, ttys).
    virtual ReadResult on_eof() { return {ReadStatus::lost, "closed by the other end"}; }
    int fd_ = -1;
    bool owns_fd_ = true;
};

/// "errno text (hint)" for open/connect failures, with what to do for the usual causes.
std::string describe_errno(int err);

} // namespace m2m
