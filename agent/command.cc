#include "agent/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "lib/child_process.h"
#include "lib/unique_fd.h"

namespace kata::agent {

namespace {

struct ExitState {
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  int status = 0;
};

}  // namespace

Result<CommandOutput> runHelperCommand(Reaper& reaper, const std::vector<std::string>& argv,
                                       int timeoutSec, size_t maxOutput) {
  if (argv.empty()) return makeError("no command to run", EINVAL);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe");
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  UniqueFd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull) return sysError("open /dev/null");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  auto state = std::make_shared<ExitState>();
  pid_t pid;
  {
    auto lock = reaper.spawnLock();
    pid = ::fork();
    if (pid < 0) return sysError("fork " + argv[0]);
    if (pid == 0) {
      resetSignalsInChild();
      ::dup2(devNull.get(), 0);
      ::dup2(writeEnd.get(), 1);
      ::dup2(devNull.get(), 2);
      ::close_range(3, ~0U, 0);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    reaper.watch(lock, pid, [state](int status) {
      std::lock_guard<std::mutex> l(state->mu);
      state->exited = true;
      state->status = status;
      state->cv.notify_all();
    });
  }
  writeEnd.reset();

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSec);
  CommandOutput result;
  bool timedOut = false;
  char buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{readEnd.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    ssize_t n = ::read(readEnd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t take = std::min(static_cast<size_t>(n), maxOutput - result.out.size());
    result.out.append(buf, take);
  }
  std::unique_lock<std::mutex> l(state->mu);
  if (timedOut || !state->cv.wait_until(l, deadline, [&] { return state->exited; })) {
    // Still running past the deadline: the reaper collects it once killed.
    if (!state->exited) ::kill(pid, SIGKILL);
    return makeError(argv[0] + " did not finish within " + std::to_string(timeoutSec) + "s",
                     ETIMEDOUT);
  }
  result.exitCode = exitCodeFromWaitStatus(state->status);
  return result;
}

}  // namespace kata::agent
