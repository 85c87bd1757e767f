#include "agent/server.h"

#include <fcntl.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <grpc/support/time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "lib/fs_util.h"
#include "lib/log.h"

// gRPC's clock hook (libgpr, a plain global: a function pointer tests replace).
extern "C++" gpr_timespec (*gpr_now_impl)(gpr_clock_type clock_type);

namespace kata::agent {

namespace {

gpr_timespec (*grpcClock)(gpr_clock_type) = nullptr;

gpr_timespec monotonicFromFiveSeconds(gpr_clock_type clock) {
  gpr_timespec now = grpcClock(clock);
  if (clock == GPR_CLOCK_MONOTONIC) now.tv_sec += 5;
  return now;
}

// When gRPC first reads the time it refuses a CLOCK_MONOTONIC whose seconds are exactly 1 and
// sleeps in 100 ms steps until they are not (gRPC 1.51, grpc_core's InitTime). A guest under
// emulation starts the agent 1 to 2 s after boot, so that rule cost every sandbox up to a
// second. Newer gRPC releases move their monotonic clock 5 s forward for the same reason; this
// does the same through gRPC's clock hook. gRPC only ever compares its own readings, so the
// offset is invisible outside it. Must run before gRPC starts any thread.
void shiftGrpcMonotonicClock() {
  if (grpcClock != nullptr) return;
  grpcClock = gpr_now_impl;
  gpr_now_impl = monotonicFromFiveSeconds;
}

}  // namespace

AgentServer::AgentServer(Sandbox& sandbox, GuestServiceOptions guestOptions,
                         std::function<void()> onDestroySandbox)
    : agent_(sandbox, std::move(guestOptions), std::move(onDestroySandbox)) {}

AgentServer::~AgentServer() { shutdown(); }

Status AgentServer::start(const std::vector<std::string>& unixPaths) {
  shiftGrpcMonotonicClock();
  ::grpc::ServerBuilder builder;
  for (const auto& path : unixPaths) {
    auto slash = path.rfind('/');
    if (slash > 0) KATA_TRY(mkdirAll(path.substr(0, slash), 0700));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sysError("remove stale " + path);
    builder.AddListeningPort("unix:" + path, ::grpc::InsecureServerCredentials());
  }
  // Specs with large seccomp profiles and CopyFile chunks exceed gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.RegisterService(&agent_);
  builder.RegisterService(&health_);
  builder.RegisterService(&forward_);
  server_ = builder.BuildAndStart();
  if (!server_) return makeError("gRPC server failed to start (see the log above)");
  for (const auto& path : unixPaths) {
    if (::chmod(path.c_str(), 0600) != 0) return sysError("chmod " + path);
    socketPaths_.push_back(path);
    log::info("serving the agent API", {{"socket", path}});
  }
  return okStatus();
}

void AgentServer::addConnection(int fd) {
  if (!server_) {
    ::close(fd);
    return;
  }
  // gRPC polls the fd and then reads until EAGAIN: a blocking fd would stall its poller thread
  // (and with it every connection) in recvmsg.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    log::warn("connection dropped", {{"error", sysError("set O_NONBLOCK").str()}});
    ::close(fd);
    return;
  }
  // gRPC takes the connected fd over as one HTTP/2 connection.
  ::grpc::AddInsecureChannelFromFd(server_.get(), fd);
}

void AgentServer::shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
  for (const auto& p : socketPaths_) ::unlink(p.c_str());
  socketPaths_.clear();
}

}  // namespace kata::agent
