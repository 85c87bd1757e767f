// A log file that a guest can feed (the console log, kata-proxy's log with the agent's lines,
// kata-shim's log) must not fill the host's /run, a tmpfs every sandbox's state lives on.
// CappedFile appends to such a file and keeps it under a byte cap: when the next write would
// cross it, the newest half of the file (from a line start) is moved to the front, after one
// marker line saying how much was dropped. The newest lines are always kept, in one file, so
// `tail` and the runtime's error messages keep working. Cost: each byte is copied once more.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata {

/// The cap of every host file that guest output can grow: console.log, proxy.log (with the
/// agent's relayed lines), kata-shim's log.
inline constexpr uint64_t kGuestLogMaxBytes = 1u << 20;

class CappedFile {
 public:
  /// Makes the line that replaces what was dropped (with its trailing newline).
  using Marker = std::function<std::string(uint64_t droppedBytes)>;

  /// The default marker: "[... N older bytes dropped: this file is kept under M bytes ...]".
  static Marker plainMarker(uint64_t maxBytes);

  CappedFile() = default;
  /// Writes go to `fd` (not owned; it must outlive this object). A regular file is capped at
  /// `maxBytes` (0: never) and switched to O_APPEND (a write-only fd is reopened for reading
  /// through /proc/self/fd; without that, a full file is emptied down to the marker);
  /// anything else (a pipe, a terminal) is written as it is.
  void attach(int fd, uint64_t maxBytes, Marker marker);
  bool attached() const { return fd_ >= 0; }

  /// Writes all of `bytes` (a write cut short by a signal is resumed). Of a single write
  /// larger than half the cap only the end is kept.
  Status append(std::string_view bytes);

  /// Bytes dropped so far.
  uint64_t dropped() const { return dropped_; }

 private:
  Status compact(size_t incoming);

  int fd_ = -1;
  UniqueFd readFd_;  // fd_ reopened for reading when fd_ is write-only
  uint64_t maxBytes_ = 0;
  uint64_t size_ = 0;  // our view of the file's size; re-read before compacting
  uint64_t dropped_ = 0;
  Marker marker_;
};

}  // namespace kata
