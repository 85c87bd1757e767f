// A uniquely named directory removed (recursively, never following symlinks) when it goes out of
// scope, for scratch space in tests and for state that must not outlive a failed operation.
#pragma once

#include <string>

#include "lib/result.h"

namespace kata {

class TempDir {
 public:
  TempDir() = default;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  /// mkdtemp("<prefix>XXXXXX"), mode 0700. A prefix without '/' is placed in $TMPDIR or /tmp.
  static Result<TempDir> create(std::string prefix);

  const std::string& path() const { return path_; }
  /// Keeps the directory; returns its path.
  std::string release();

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace kata
