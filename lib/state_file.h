// JSON state files (sandbox/container state, runtime bookkeeping) written atomically and read
// strictly, plus the flock-based lock that serialises concurrent kata-runtime invocations.
#pragma once

#include <json/json.h>
#include <sys/types.h>

#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata {

/// Writes `value` as JSON to `path` atomically (see writeFileAtomic, also for `exclusive`).
Status writeJsonAtomic(const std::string& path, const Json::Value& value, mode_t mode = 0600,
                       bool exclusive = false);

/// Parses the JSON file at `path` (strict mode: no comments, no trailing garbage, no duplicate
/// keys). Errors name the file: "/run/vc/sbs/x/state.json: parse error at line 3: ...".
/// ENOENT is kept as the error code so callers can tell "missing" from "corrupt".
Result<Json::Value> readJsonFile(const std::string& path, size_t maxBytes = 1 << 20);

/// Parses JSON text strictly; `what` names the source in errors.
Result<Json::Value> parseJson(std::string_view text, const std::string& what);

/// An advisory lock (flock) on a lock file, created with mode 0600 if missing. Released when
/// the object is destroyed. Shared locks coexist; an exclusive lock excludes all others.
/// The holder of an exclusive lock may remove the file (removeFile) once what it guards is
/// gone: a process that was waiting on the removed file notices that its lock is on a file no
/// longer at the path and locks the path afresh, so removal never lets two holders in.
class FileLock {
 public:
  enum Mode { Shared, Exclusive };

  FileLock() = default;
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

  /// Waits up to timeoutMs (-1 = forever, 0 = try once) for the lock. A timeout is an error
  /// with code EWOULDBLOCK naming the file.
  static Result<FileLock> acquire(const std::string& path, Mode mode, int timeoutMs = -1);

  bool held() const { return fd_.valid(); }
  /// Releases the lock now.
  void release() { fd_.reset(); }
  /// Unlinks the lock file, then releases the lock. Only for an exclusive holder.
  void removeFile();

 private:
  FileLock(UniqueFd fd, std::string path, Mode mode)
      : fd_(std::move(fd)), path_(std::move(path)), mode_(mode) {}
  UniqueFd fd_;
  std::string path_;
  Mode mode_ = Shared;
};

}  // namespace kata
