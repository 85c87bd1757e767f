// One process's stdio and exit, relayed between containerd's FIFOs and the guest's agent: the
// shim v2's counterpart of a kata-shim process, run on threads of the shim (shim/shim.h's
// relay, the same code). containerd opens its ends of the FIFOs itself, before or after us;
// the end of stdin is not an EOF on the FIFO but a CloseIO call (closeStdin()).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/process_ref.h"
#include "shim/shim.h"

namespace kata::shimv2 {

/// containerd's stdio of a process: FIFO paths ("" for a stream not wanted).
struct ProcessIo {
  std::string stdinPath;
  std::string stdoutPath;
  std::string stderrPath;
  bool terminal = false;  // one output stream, the guest's pty
};

class ProcessRelay {
 public:
  struct Target {
    std::string agentUrl;  // the sandbox's agent socket
    std::string container;
    std::string execId;  // the agent's: the container id for its init process
    /// A process the agent cannot be reached without (QEMU): its exit ends the relay at once.
    vc::ProcessRef vm;
  };

  /// Opens the FIFOs and starts relaying. `onExit(status)` runs once, on the relay's thread,
  /// with the process's exit status (128+signal when killed; shim::kExitAgentLost when the
  /// agent was lost).
  static Result<std::unique_ptr<ProcessRelay>> start(const Target& target, const ProcessIo& io,
                                                     std::function<void(int status)> onExit);
  ~ProcessRelay();  // stops relaying (the process itself is not touched) and joins
  ProcessRelay(const ProcessRelay&) = delete;
  ProcessRelay& operator=(const ProcessRelay&) = delete;

  /// CloseIO: what containerd wrote to stdin is relayed, then the process sees EOF.
  void closeStdin();

 private:
  ProcessRelay() = default;
  void pumpStdin();

  UniqueFd stdinFifo_, stdoutFifo_, stderrFifo_, vmPidfd_;
  UniqueFd stdinPipeWrite_, stdinPipeRead_;  // the pump writes what the relay reads
  UniqueFd closeStdin_, stop_;               // eventfds
  std::unique_ptr<shim::Shim> relay_;
  std::thread relayThread_, pumpThread_;
};

}  // namespace kata::shimv2
