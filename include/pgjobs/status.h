// Status and Result<T>: how fallible pgjobs functions report errors.
//
// A Status is either ok or carries a code and a message meant for a person:
// what went wrong, then what to do about it. Context is added on the way up
// with WithContext("claim queue=emails").
#ifndef PGJOBS_STATUS_H_
#define PGJOBS_STATUS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pgjobs {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (a user error)
    kNotFound,
    kAlreadyExists,
    kUnavailable,  // the database or a peer cannot be reached right now
    kFailedPrecondition,
    kInternal,          // a bug in pgjobs
    kPermissionDenied,  // the database role lacks a right (GRANT one of the pgjobs roles)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(Code::kUnavailable, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(Code::kInternal, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message".
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), status_(Status::Ok()) {}  // NOLINT: implicit
  // A non-ok status; an ok one without a value is a bug and reads as one.
  Result(Status status)  // NOLINT: implicit by design
      : status_(status.ok() ? Status::Internal("Result built from an ok Status without a value")
                            : std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace pgjobs

#define PGJOBS_RETURN_IF_ERROR(expr)       \
  do {                                     \
    ::pgjobs::Status _pgjobs_st = (expr);  \
    if (!_pgjobs_st.ok()) return _pgjobs_st; \
  } while (0)

#endif  // PGJOBS_STATUS_H_
