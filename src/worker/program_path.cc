// ResolveProgram: finding the program of a command task the way execvp()
// would, with messages that say what to do when it cannot be run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "worker/command_runner.h"

namespace pgjobs::worker {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

std::string ErrnoText(int err) {
  const char* text = strerrordesc_np(err);  // unlike strerror(), thread-safe
  return text != nullptr ? text : "error " + std::to_string(err);
}

enum class FileCheck { kExecutable, kMissing, kDirectory, kNotRegular, kNotExecutable };

FileCheck CheckFile(const std::string& path, int* err) {
  struct stat st;
  if (stat(path.c_str(), &st) < 0) {
    *err = errno;
    return FileCheck::kMissing;
  }
  if (S_ISDIR(st.st_mode)) return FileCheck::kDirectory;
  if (!S_ISREG(st.st_mode)) return FileCheck::kNotRegular;
  // AT_EACCESS: execve() checks the effective ids, not the real ones.
  if (faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) < 0) return FileCheck::kNotExecutable;
  return FileCheck::kExecutable;
}

std::string MakeAbsolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.string();
}

Result<std::string> CheckExplicitPath(const std::string& path) {
  const std::string prefix = "cannot run " + path + ": ";
  int err = 0;
  switch (CheckFile(path, &err)) {
    case FileCheck::kExecutable:
      return MakeAbsolute(path);
    case FileCheck::kMissing:
      return err == ENOENT ? Status::NotFound(prefix + ErrnoText(err))
                           : Status::FailedPrecondition(prefix + ErrnoText(err));
    case FileCheck::kDirectory:
      return Status::FailedPrecondition(prefix + "is a directory, not a program");
    case FileCheck::kNotRegular:
      return Status::FailedPrecondition(prefix + "is not a regular file");
    case FileCheck::kNotExecutable:
      break;
  }
  return Status::FailedPrecondition(
      prefix +
      "is not executable; make it executable (chmod +x) or run it through its interpreter");
}

// Like execvp(), takes the first executable regular file. Unlike execvp(), an
// empty PATH entry is skipped rather than meaning the current directory.
Result<std::string> SearchPath(const std::string& name) {
  const char* env_path = getenv("PATH");
  const std::string path_list = env_path ? env_path : kDefaultPath;
  std::string not_executable;
  std::size_t begin = 0;
  while (begin <= path_list.size()) {
    std::size_t end = path_list.find(':', begin);
    if (end == std::string::npos) end = path_list.size();
    const std::string dir = path_list.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty()) continue;
    const std::string candidate = dir + (dir.back() == '/' ? "" : "/") + name;
    int err = 0;
    const FileCheck check = CheckFile(candidate, &err);
    if (check == FileCheck::kExecutable) return MakeAbsolute(candidate);
    if (check == FileCheck::kNotExecutable && not_executable.empty()) not_executable = candidate;
  }
  if (!not_executable.empty()) {
    return Status::FailedPrecondition("cannot run " + name + ": found " + not_executable +
                                      " in PATH but it is not executable; make it executable "
                                      "(chmod +x) or use an absolute path");
  }
  return Status::NotFound("cannot run " + name + ": not found in PATH (" + path_list +
                          "); use an absolute path or install it");
}

}  // namespace

Result<std::string> ResolveProgram(const std::string& argv0) {
  if (argv0.empty()) return Status::InvalidArgument("cannot run a program with an empty name");
  if (argv0.find('/') != std::string::npos) return CheckExplicitPath(argv0);
  return SearchPath(argv0);
}

}  // namespace pgjobs::worker
