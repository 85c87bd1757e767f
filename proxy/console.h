// The guest console (where the agent logs) is a QEMU chardev socket: kata-proxy reads it and
// re-logs each line with field source=agent and the sandbox id.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"

namespace kata::proxy {

/// Splits a byte stream into lines. A line longer than `maxLine` is emitted in pieces of
/// `maxLine`, so a guest that never sends a newline cannot make us buffer without bound.
class LineSplitter {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  explicit LineSplitter(size_t maxLine = 16 * 1024) : maxLine_(maxLine) {}

  /// Emits every complete line (without "\n" or a trailing "\r"; empty lines are skipped).
  void feed(std::string_view bytes, const LineHandler& onLine);
  /// Emits what is left (at end of stream).
  void finish(const LineHandler& onLine);

 private:
  void emit(std::string_view line, const LineHandler& onLine);
  size_t maxLine_;
  std::string partial_;
};

/// Reads the console socket on the loop and logs each line at info level. Stops quietly at
/// end of file (the VM went away; the agent channel reports that).
class ConsoleWatcher {
 public:
  Status start(uv_loop_t* loop, UniqueFd fd);
  void stop();

 private:
  void onReadable();
  UniqueFd fd_;
  uv::Poll poll_;
  LineSplitter splitter_;
};

}  // namespace kata::proxy
