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
  std::unique_ptr<OutputStream> out, err;
  std::unique_ptr<InputStream> in;
  UniqueFd master;
  if (stdio.terminal) {
    master = std::move(stdio.ptyMaster);
    out = std::make_unique<OutputStream>(UniqueFd(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0)), true);
    in = std::make_unique<InputStream>(UniqueFd(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0)), true);
  } else {
    out = std::make_unique<OutputStream>(std::move(stdio.stdoutRead), false);
    err = std::make_unique<OutputStream>(std::move(stdio.stderrRead), false);
    in = std::make_unique<InputStream>(std::move(stdio.stdinWrite), false);
  }
  // The child's side lives on in the child only: our copies would keep EOF from ever coming.
  stdio.childIn.reset();
  stdio.childOut.reset();
  stdio.childErr.reset();
  // Under the lock: the reaper may report the exit (markExited) at any moment.
  std::lock_guard<std::mutex> lock(mu_);
  ptyMaster_ = std::move(master);
  stdout_ = std::move(out);
  stderr_ = std::move(err);
  stdin_ = std::move(in);
  if (exited_) outputGraceStarts();  // it died before its stdio was attached
}

void Process::outputGraceStarts() {
  if (stdout_) stdout_->processExited(kOutputGrace);
  if (stderr_) stderr_->processExited(kOutputGrace);
}

void Process::markExited(int waitStatus) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
    exitCode_ = exitCodeOf(waitStatus);
    outputGraceStarts();
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

void Process::markWaited() {
  std::lock_guard<std::mutex> lock(mu_);
  waited_ = true;
}

bool Process::finished() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!waited_) return false;
  }
  return (!stdout_ || stdout_->drained()) && (!stderr_ || stderr_->drained());
}

void Process::stopStdio() {
  if (stdout_) stdout_->stop();
  if (stderr_) stderr_->stop();
  if (stdin_) stdin_->stop();
}

}  // namespace kata::agent
