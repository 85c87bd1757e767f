// The guest console (where the agent logs) is a QEMU chardev socket: kata-proxy reads it,
// re-logs each line with field source=agent and the sandbox id, and keeps the raw console in
// the file named by $KATA_PROXY_CONSOLE_LOG, capped (lib/capped_file.h).
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "lib/capped_file.h"
#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"

namespace kata::proxy {

/// Environment variable naming the console log file (set by kata-runtime; its counterpart is
/// vc::kProxyConsoleLogEnv). Unset: the console is only relayed to the proxy's log.
inline constexpr const char* kConsoleLogEnv = "KATA_PROXY_CONSOLE_LOG";
/// Longest console line relayed to the log as one line; longer ones are cut in pieces.
inline constexpr size_t kMaxRelayedLine = 8 * 1024;

/// Splits a byte stream into lines. A line longer than `maxLine` is emitted in pieces of
/// `maxLine`, so a guest that never sends a newline cannot make us buffer without bound.
class LineSplitter {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  explicit LineSplitter(size_t maxLine = kMaxRelayedLine) : maxLine_(maxLine) {}

  /// Emits every complete line (without "\n" or a trailing "\r"; empty lines are skipped).
  void feed(std::string_view bytes, const LineHandler& onLine);
  /// Emits what is left (at end of stream).
  void finish(const LineHandler& onLine);

 private:
  void emit(std::string_view line, const LineHandler& onLine);
  size_t maxLine_;
  std::string partial_;
};

/// Reads the console socket on the loop, logs each line at info level and, with a `logPath`,
/// appends the raw bytes there, keeping the file under `maxLogBytes`. Stops quietly at end of
/// file (the VM went away; the agent channel reports that).
class ConsoleWatcher {
 public:
  /// A `logPath` that cannot be opened (a symlink there is refused) is a warning only.
  Status start(uv_loop_t* loop, UniqueFd fd, const std::string& logPath = "",
               uint64_t maxLogBytes = kGuestLogMaxBytes);
  void stop();

 private:
  void onReadable();
  UniqueFd fd_;
  uv::Poll poll_;
  LineSplitter splitter_;
  UniqueFd logFd_;
  CappedFile log_;
};

}  // namespace kata::proxy
