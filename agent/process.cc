#include "agent/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>

namespace kata::agent {

int exitCodeOf(int waitStatus) {
  if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
  if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
  return 255;
}

Process::~Process() { stopStdio(); }

pid_t Process::pid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pid_;
}

void Process::setPid(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  pid_ = pid;
}

void Process::attachStdio(StdioPair& stdio) {
  if (stdio.terminal) {
    ptyMaster_ = std::move(stdio.ptyMaster);
    stdout_ = std::make_unique<OutputStream>(
        UniqueFd(::fcntl(ptyMaster_.get(), F_DUPFD_CLOEXEC, 0)), true);
    stdin_ = std::make_unique<InputStream>(UniqueFd(::fcntl(ptyMaster_.get(), F_DUPFD_CLOEXEC, 0)),
                                           true);
  } else {
    stdout_ = std::make_unique<OutputStream>(std::move(stdio.stdoutRead), false);
    stderr_ = std::make_unique<OutputStream>(std::move(stdio.stderrRead), false);
    stdin_ = std::make_unique<InputStream>(std::move(stdio.stdinWrite), false);
  }
  // The child's side lives on in the child only: our copies would keep EOF from ever coming.
  stdio.childIn.reset();
  stdio.childOut.reset();
  stdio.childErr.reset();
}

void Process::markExited(int waitStatus) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
    exitCode_ = exitCodeOf(waitStatus);
  }
  exitCv_.notify_all();
}

bool Process::exited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exited_;
}

std::optional<int> Process::exitCode() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!exited_) return std::nullopt;
  return exitCode_;
}

std::optional<int> Process::waitExit(const CancelCheck& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!exited_) {
    if (cancelled && cancelled()) return std::nullopt;
    exitCv_.wait_for(lock, std::chrono::milliseconds(200));
  }
  return exitCode_;
}

bool Process::waitExitFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return exitCv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return exited_; });
}

Status Process::signal(int sig) {
  std::lock_guard<std::mutex> lock(mu_);
  if (exited_ || pid_ <= 0) return makeError("process has exited", ESRCH);
  if (::kill(pid_, sig) != 0) return sysError("kill");
  return okStatus();
}

void Process::stopStdio() {
  if (stdout_) stdout_->stop();
  if (stderr_) stderr_->stop();
  if (stdin_) stdin_->stop();
}

}  // namespace kata::agent
