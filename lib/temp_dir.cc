#include "lib/temp_dir.h"

#include <stdlib.h>

#include <vector>

#include "lib/fs_util.h"

namespace kata {

TempDir::TempDir(TempDir&& other) noexcept : path_(other.release()) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) (void)removeAll(path_);
    path_ = other.release();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)removeAll(path_);  // best effort: nothing to report to
}

Result<TempDir> TempDir::create(std::string prefix) {
  if (prefix.find('/') == std::string::npos) {
    const char* tmp = getenv("TMPDIR");
    prefix = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix;
  }
  std::vector<char> templ(prefix.begin(), prefix.end());
  for (char c : std::string("XXXXXX")) templ.push_back(c);
  templ.push_back('\0');
  if (!mkdtemp(templ.data())) return sysError("mkdtemp " + prefix + "XXXXXX");
  return TempDir(std::string(templ.data()));
}

std::string TempDir::release() { return std::exchange(path_, std::string()); }

}  // namespace kata
