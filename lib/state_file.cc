#include "lib/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include <memory>

#include "lib/fs_util.h"
#include "lib/monotonic_clock.h"

namespace kata {

Status writeJsonAtomic(const std::string& path, const Json::Value& value, mode_t mode,
                       bool exclusive) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  builder["emitUTF8"] = true;
  std::string text = Json::writeString(builder, value);
  text += '\n';
  return writeFileAtomic(path, text, mode, exclusive);
}

Result<Json::Value> parseJson(std::string_view text, const std::string& what) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder["stackLimit"] = 256;  // bounded recursion for hostile input
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errs;
  bool parsed = false;
  try {
    parsed = reader->parse(text.data(), text.data() + text.size(), &root, &errs);
  } catch (const Json::Exception& e) {  // jsoncpp throws, rather than fails, past stackLimit
    errs = e.what();
  }
  if (!parsed) {
    // jsoncpp reports "* Line 1, Column 2\n  Syntax error...\n": keep one line.
    std::string line;
    for (char c : errs) {
      if (c == '\n') {
        if (!line.empty() && line.back() != ' ') line += ' ';
        continue;
      }
      line += c;
    }
    if (line.rfind("* ", 0) == 0) line.erase(0, 2);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    size_t pos;
    while ((pos = line.find("  ")) != std::string::npos) line.erase(pos, 1);
    return makeError(what + ": invalid JSON: " + line, EINVAL);
  }
  return root;
}

Result<Json::Value> readJsonFile(const std::string& path, size_t maxBytes) {
  auto text = readFile(path, maxBytes);
  if (!text.ok()) return std::move(text).error();
  return parseJson(*text, path);
}

namespace {

// Whether the locked file is still the one at `path` (a holder may have unlinked it, or
// unlinked it and another process created a new one, while we waited).
bool stillAtPath(int fd, const std::string& path) {
  struct stat held, current;
  if (fstat(fd, &held) != 0 || stat(path.c_str(), &current) != 0) return false;
  return held.st_dev == current.st_dev && held.st_ino == current.st_ino;
}

}  // namespace

Result<FileLock> FileLock::acquire(const std::string& path, Mode mode, int timeoutMs) {
  const int op = (mode == Exclusive ? LOCK_EX : LOCK_SH);
  const timespec start = monotonicNow();
  for (;;) {
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sysError("open lock file " + path);
    while (flock(fd.get(), timeoutMs < 0 ? op : op | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) return sysError("lock " + path);
      if (msSince(start) >= timeoutMs) {
        return makeError("lock " + path + ": still held by another process after " +
                             std::to_string(timeoutMs) + " ms",
                         EWOULDBLOCK);
      }
      // flock has no timed wait; poll at a pace that is cheap yet responsive.
      struct timespec pause = {0, 10 * 1000 * 1000};
      nanosleep(&pause, nullptr);
    }
    if (stillAtPath(fd.get(), path)) return FileLock(std::move(fd), path, mode);
    // The previous holder removed the file: lock whatever is at the path now.
  }
}

void FileLock::removeFile() {
  if (!fd_.valid() || mode_ != Exclusive) return;
  (void)unlink(path_.c_str());
  release();
}

}  // namespace kata
