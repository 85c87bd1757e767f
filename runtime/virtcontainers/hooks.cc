#include "runtime/virtcontainers/hooks.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/child_process.h"
#include "lib/unique_fd.h"

namespace kata::vc {
namespace {

constexpr int kDefaultHookTimeoutSec = 60;

Status runHook(const Json::Value& hook, const std::string& stateJson, const std::string& what) {
  if (!hook.isObject() || !hook["path"].isString())
    return makeError(what + ": hook without a path", EINVAL);
  SpawnOptions opts;
  opts.program = hook["path"].asString();
  const Json::Value& args = hook["args"];
  // `args` is the hook's whole argv, as execv takes it (argv[0] included); none = the path.
  for (Json::ArrayIndex i = 0; args.isArray() && i < args.size(); i++)
    opts.argv.push_back(args[i].asString());
  if (opts.argv.empty()) opts.argv.push_back(opts.program);
  if (hook["env"].isArray()) {
    std::vector<std::string> env;
    for (const auto& e : hook["env"]) env.push_back(e.asString());
    opts.env = env;
  }
  int timeout = hook["timeout"].isInt() ? hook["timeout"].asInt() : kDefaultHookTimeoutSec;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe");
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  opts.stdinFd = readEnd.get();
  opts.stderrFd = 2;
  KATA_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::spawn(opts));
  readEnd.reset();
  // The state is small (well under a pipe buffer); a hook that ignores stdin must not block us,
  // and one that exits before reading it must not kill us with SIGPIPE (it is blocked while we
  // write, and a pending one is taken back): as with runc, its exit status is what counts.
  fcntl(writeEnd.get(), F_SETFL, O_NONBLOCK);
  sigset_t pipeSig, old;
  sigemptyset(&pipeSig);
  sigaddset(&pipeSig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeSig, &old);
  if (write(writeEnd.get(), stateJson.data(), stateJson.size()) < 0 && errno == EPIPE) {
    const timespec now{0, 0};
    while (sigtimedwait(&pipeSig, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  writeEnd.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  for (;;) {
    KATA_ASSIGN_OR_RETURN(std::optional<int> code, child.tryWait());
    if (code) {
      if (*code != 0)
        return makeError(what + " " + opts.program + " exited with status " +
                         std::to_string(*code));
      return okStatus();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)child.signal(SIGKILL);
      (void)child.wait();
      return makeError(
          what + " " + opts.program + " timed out after " + std::to_string(timeout) + "s",
          ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Status runHooks(const Json::Value& hooks, const std::string& kind, const oci::State& state) {
  if (!hooks.isObject() || !hooks.isMember(kind)) return okStatus();
  const Json::Value& list = hooks[kind];
  if (!list.isArray()) return makeError("hooks." + kind + ": expected an array", EINVAL);
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  const std::string stateJson = Json::writeString(w, oci::toJson(state));
  for (Json::ArrayIndex i = 0; i < list.size(); i++)
    KATA_TRY(runHook(list[i], stateJson, kind + " hook"));
  return okStatus();
}

Status runCreateHooks(const Json::Value& hooks, oci::State state, const std::string& netns) {
  if (!hooks.isMember("prestart") && !hooks.isMember("createRuntime")) return okStatus();
  // The parked process is `cat` reading a pipe that only we hold: it ends when we close it, or
  // when this command dies, and never outlives the hooks.
  ChildProcess parked;
  UniqueFd release;
  state.pid = getpid();
  if (!netns.empty()) {
    UniqueFd ns(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return sysError("network namespace " + netns);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe");
    UniqueFd readEnd(fds[0]);
    release.reset(fds[1]);
    SpawnOptions opts;
    opts.argv = {"cat"};
    opts.stdinFd = readEnd.get();
    opts.netnsFd = ns.get();
    KATA_ASSIGN_OR_RETURN(parked, ChildProcess::spawn(opts));
    state.pid = parked.pid();
  }
  KATA_TRY(runHooks(hooks, "prestart", state));
  return runHooks(hooks, "createRuntime", state);
}

}  // namespace kata::vc
