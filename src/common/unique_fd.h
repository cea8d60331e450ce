// UniqueFd: owns one file descriptor and closes it when destroyed.
//
// Move-only. Header-only, so it needs no entry in sources.cmake.
#ifndef PGJOBS_COMMON_UNIQUE_FD_H_
#define PGJOBS_COMMON_UNIQUE_FD_H_

#include <unistd.h>

namespace pgjobs {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership without closing.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

  // Closes the current descriptor (if any) and takes ownership of fd. close()
  // is not retried on EINTR: Linux has released the descriptor either way.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace pgjobs

#endif  // PGJOBS_COMMON_UNIQUE_FD_H_
