#include "pgjobs/status.h"

namespace pgjobs {

std::string Status::ToString() const {
  const char* name = "";
  switch (code_) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kNotFound: name = "not found"; break;
    case Code::kAlreadyExists: name = "already exists"; break;
    case Code::kUnavailable: name = "unavailable"; break;
    case Code::kFailedPrecondition: name = "failed precondition"; break;
    case Code::kInternal: name = "internal error"; break;
    case Code::kPermissionDenied:
      name = "permission denied";
      break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace pgjobs
