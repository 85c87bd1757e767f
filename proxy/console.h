// The guest console (where the agent logs) is a QEMU chardev socket: kata-proxy reads it,
// re-logs each line with field source=agent and the sandbox id, and keeps the raw console in
// the file named by $KATA_PROXY_CONSOLE_LOG, capped (lib/capped_file.h). virtiofsd's stderr,
// which the guest can fill too, comes as a pipe on fd 3 and goes to $KATA_PROXY_VIRTIOFSD_LOG.
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
/// Environment variable naming virtiofsd's log file, whose bytes arrive on fd
/// kVirtiofsdLogFd (vc::kProxyVirtiofsdLogEnv, vc::kProxyVirtiofsdLogFd).
inline constexpr const char* kVirtiofsdLogEnv = "KATA_PROXY_VIRTIOFSD_LOG";
inline constexpr int kVirtiofsdLogFd = 3;
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

/// Pumps a byte stream the guest feeds (the console socket; virtiofsd's stderr pipe) on the
/// loop into a log file kept under `maxLogBytes` and, with a `relaySource`, re-logs each line
/// at info level with that source (the console: "agent"). Stops quietly at end of file (the
/// VM or virtiofsd went away; the agent channel reports that).
class LogPump {
 public:
  /// `what` names the stream in messages ("console", "virtiofsd").
  LogPump(std::string what, std::string relaySource)
      : what_(std::move(what)), relaySource_(std::move(relaySource)) {}

  /// A `logPath` that cannot be opened (a symlink there is refused) is a warning only.
  Status start(uv_loop_t* loop, UniqueFd fd, const std::string& logPath = "",
               uint64_t maxLogBytes = kGuestLogMaxBytes);
  void stop();

 private:
  void onReadable();
  void relay(std::string_view line) const;

  std::string what_;
  std::string relaySource_;
  UniqueFd fd_;
  uv::Poll poll_;
  LineSplitter splitter_;
  UniqueFd logFd_;
  CappedFile log_;
};

}  // namespace kata::proxy
