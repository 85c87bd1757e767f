#include "runtime/virtcontainers/process_ref.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/fs_util.h"
#include "lib/parse.h"

namespace kata::vc {
namespace {

// /proc/<pid>/stat: "pid (comm) state ppid ..." where comm may hold spaces and parentheses, so
// fields are counted from the last ')'.
Result<std::string> statField(pid_t pid, int field) {
  KATA_ASSIGN_OR_RETURN(std::string stat, readFile("/proc/" + std::to_string(pid) + "/stat", 4096));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return makeError("malformed /proc stat", EINVAL);
  int index = 2;  // the field after ')' is field 3 (state)
  size_t pos = close + 1;
  while (pos < stat.size()) {
    while (pos < stat.size() && stat[pos] == ' ') pos++;
    size_t end = stat.find(' ', pos);
    if (end == std::string::npos) end = stat.size();
    index++;
    if (index == field) return stat.substr(pos, end - pos);
    pos = end;
  }
  return makeError("short /proc stat", EINVAL);
}

}  // namespace

Result<uint64_t> processStartTime(pid_t pid) {
  if (pid <= 0) return makeError("invalid pid " + std::to_string(pid), ESRCH);
  auto f = statField(pid, 22);
  if (!f.ok()) return makeError("process " + std::to_string(pid) + " does not exist", ESRCH);
  return parseInt<uint64_t>(*f, "start time of process " + std::to_string(pid));
}

Result<ProcessRef> ProcessRef::of(pid_t pid) {
  KATA_ASSIGN_OR_RETURN(uint64_t start, processStartTime(pid));
  return ProcessRef{pid, start};
}

bool ProcessRef::alive() const {
  if (pid <= 0) return false;
  auto start = processStartTime(pid);
  if (!start.ok() || *start != startTime) return false;
  auto state = statField(pid, 3);
  return state.ok() && *state != "Z" && *state != "X";
}

Result<UniqueFd> ProcessRef::openPidfd() const {
  if (pid <= 0) return UniqueFd();
  // Open a pidfd first, then check the start time: if the check passes, the pidfd refers to
  // this process for good.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    if (errno == ESRCH) return UniqueFd();
    return sysError("pidfd_open " + std::to_string(pid));
  }
  if (!alive()) return UniqueFd();
  return pidfd;
}

Status ProcessRef::signal(int sig) const {
  KATA_ASSIGN_OR_RETURN(UniqueFd pidfd, openPidfd());
  if (!pidfd) return okStatus();
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0 && errno != ESRCH)
    return sysError("signal " + std::to_string(sig) + " to " + std::to_string(pid));
  return okStatus();
}

Status ProcessRef::killAndWait(int timeoutMs) const {
  KATA_TRY(signal(SIGKILL));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (alive()) {
    if (std::chrono::steady_clock::now() > deadline)
      return makeError("process " + std::to_string(pid) + " survived SIGKILL", EBUSY);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return okStatus();
}

Status ProcessRef::terminate(int graceMs) const {
  KATA_TRY(signal(SIGTERM));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  while (alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return killAndWait();
}

}  // namespace kata::vc
