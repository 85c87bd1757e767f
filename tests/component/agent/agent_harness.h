// Test harness for the agent component tests: a busybox rootfs laid out like the guest's shared
// dir, the real kata-agent binary on a unix socket, a gRPC client, and cleanup of everything
// (processes, mounts, cgroups) even when a test fails.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/child_process.h"
#include "lib/temp_dir.h"
#include "protocols/agent.grpc.pb.h"
#include "protocols/health.grpc.pb.h"

namespace kata::agenttest {

/// The cgroup parent every test container uses (removed at teardown).
inline constexpr const char* kTestCgroupParent = "/kata-agent-test";

class AgentHarness {
 public:
  /// Creates the scratch dir and starts the agent; fails the test on error.
  void start() { startAgent("", {}); }
  /// start() with the agent in network namespace `netns` (a /run/netns/<name> path, "" for
  /// ours) and `extraArgs` added to its command line.
  void startAgent(const std::string& netns, const std::vector<std::string>& extraArgs);
  /// Stops the agent (SIGTERM, then SIGKILL) and removes every trace.
  void stop();

  ::grpc::AgentService::Stub& agent() { return *agent_; }
  ::grpc::Health::Stub& health() { return *health_; }
  std::shared_ptr<::grpc::Channel> channel() { return channel_; }
  const std::string& base() const { return dir_.path(); }
  std::string sharedDir() const { return dir_.path() + "/shared"; }
  /// Lays out <shared>/<cid>/rootfs from /bin/busybox; returns the rootfs path.
  std::string makeRootfs(const std::string& cid);
  /// The agent's log so far (for failure messages).
  std::string agentLog() const;

  /// A runc-like spec: pid/ipc/uts/mount namespaces, the standard mounts, default caps.
  ::grpc::Spec makeSpec(const std::string& cid, const std::vector<std::string>& args,
                        bool terminal = false);
  /// CreateContainer with makeSpec (or `spec` when given); returns the gRPC status.
  ::grpc::Status create(const std::string& cid, const ::grpc::Spec& spec);
  ::grpc::Status start(const std::string& cid);
  /// makeRootfs, create with makeSpec, start: "" when all went well, else what failed with the
  /// agent's log.
  std::string createAndStart(const std::string& cid, const std::vector<std::string>& args,
                             bool terminal = false);
  /// Reads a stream until its end (the agent's end-of-stream error, protocols/agent_wire.h),
  /// another error or an empty reply; `status` gets the final status.
  std::string readAll(const std::string& cid, const std::string& execId, bool stderrStream,
                      ::grpc::Status* status = nullptr, uint32_t chunk = 32768);
  /// WaitProcess; -1000 on RPC error.
  int wait(const std::string& cid, const std::string& execId, int timeoutMs = 20000);
  ::grpc::Status remove(const std::string& cid);
  ::grpc::Status signal(const std::string& cid, const std::string& execId, uint32_t sig);
  ::grpc::Status exec(const std::string& cid, const std::string& execId,
                      const std::vector<std::string>& args, bool terminal = false,
                      const ::grpc::StringUser* user = nullptr);

 private:
  TempDir dir_;
  ChildProcess agentProcess_;
  std::string logPath_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<::grpc::AgentService::Stub> agent_;
  std::unique_ptr<::grpc::Health::Stub> health_;
};

/// A client context with a deadline `ms` from now.
std::unique_ptr<::grpc::ClientContext> deadlineContext(int ms);

}  // namespace kata::agenttest
