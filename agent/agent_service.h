// The Kata agent API (grpc.AgentService), served on every connection of the agent. Every
// request is untrusted: ids, paths and sizes are checked and a bad request gets a gRPC error
// with a one-line message, never a crash.
//
// Process calls answer as upstream's agent does (agent/README.md, "Behaviour the other
// components rely on"): ReadStdout/ReadStderr block until data is available, at most
// min(len, 1 MiB) bytes per reply (32 KiB when len is 0), and end with UNKNOWN "EOF"
// (protocols/agent_wire.h); a process is forgotten once WaitProcess returned its status and its
// output was read; a signal to a stopped container is dropped.
#pragma once

#include <functional>

#include "agent/guest_services.h"
#include "agent/sandbox.h"
#include "protocols/agent.grpc.pb.h"

namespace kata::agent {

class AgentService final : public ::grpc::AgentService::Service {
 public:
  /// `onDestroySandbox` runs after DestroySandbox replied (the init powers the VM off there).
  AgentService(Sandbox& sandbox, GuestServiceOptions guestOptions,
               std::function<void()> onDestroySandbox)
      : sandbox_(sandbox),
        guest_(std::move(guestOptions)),
        onDestroySandbox_(std::move(onDestroySandbox)) {}

  using Ctx = ::grpc::ServerContext;
  using Empty = ::google::protobuf::Empty;

  ::grpc::Status CreateContainer(Ctx*, const ::grpc::CreateContainerRequest*, Empty*) override;
  ::grpc::Status StartContainer(Ctx*, const ::grpc::StartContainerRequest*, Empty*) override;
  ::grpc::Status RemoveContainer(Ctx*, const ::grpc::RemoveContainerRequest*, Empty*) override;
  ::grpc::Status ExecProcess(Ctx*, const ::grpc::ExecProcessRequest*, Empty*) override;
  ::grpc::Status SignalProcess(Ctx*, const ::grpc::SignalProcessRequest*, Empty*) override;
  ::grpc::Status WaitProcess(Ctx*, const ::grpc::WaitProcessRequest*,
                             ::grpc::WaitProcessResponse*) override;
  ::grpc::Status ListProcesses(Ctx*, const ::grpc::ListProcessesRequest*,
                               ::grpc::ListProcessesResponse*) override;
  ::grpc::Status UpdateContainer(Ctx*, const ::grpc::UpdateContainerRequest*, Empty*) override;
  ::grpc::Status StatsContainer(Ctx*, const ::grpc::StatsContainerRequest*,
                                ::grpc::StatsContainerResponse*) override;
  ::grpc::Status PauseContainer(Ctx*, const ::grpc::PauseContainerRequest*, Empty*) override;
  ::grpc::Status ResumeContainer(Ctx*, const ::grpc::ResumeContainerRequest*, Empty*) override;
  ::grpc::Status WriteStdin(Ctx*, const ::grpc::WriteStreamRequest*,
                            ::grpc::WriteStreamResponse*) override;
  ::grpc::Status ReadStdout(Ctx*, const ::grpc::ReadStreamRequest*,
                            ::grpc::ReadStreamResponse*) override;
  ::grpc::Status ReadStderr(Ctx*, const ::grpc::ReadStreamRequest*,
                            ::grpc::ReadStreamResponse*) override;
  ::grpc::Status CloseStdin(Ctx*, const ::grpc::CloseStdinRequest*, Empty*) override;
  ::grpc::Status TtyWinResize(Ctx*, const ::grpc::TtyWinResizeRequest*, Empty*) override;
  ::grpc::Status UpdateInterface(Ctx*, const ::grpc::UpdateInterfaceRequest*,
                                 ::types::Interface*) override;
  ::grpc::Status UpdateRoutes(Ctx*, const ::grpc::UpdateRoutesRequest*, ::grpc::Routes*) override;
  ::grpc::Status ListInterfaces(Ctx*, const ::grpc::ListInterfacesRequest*,
                                ::grpc::Interfaces*) override;
  ::grpc::Status ListRoutes(Ctx*, const ::grpc::ListRoutesRequest*, ::grpc::Routes*) override;
  ::grpc::Status AddARPNeighbors(Ctx*, const ::grpc::AddARPNeighborsRequest*, Empty*) override;
  ::grpc::Status StartTracing(Ctx*, const ::grpc::StartTracingRequest*, Empty*) override;
  ::grpc::Status StopTracing(Ctx*, const ::grpc::StopTracingRequest*, Empty*) override;
  ::grpc::Status CreateSandbox(Ctx*, const ::grpc::CreateSandboxRequest*, Empty*) override;
  ::grpc::Status DestroySandbox(Ctx*, const ::grpc::DestroySandboxRequest*, Empty*) override;
  ::grpc::Status OnlineCPUMem(Ctx*, const ::grpc::OnlineCPUMemRequest*, Empty*) override;
  ::grpc::Status ReseedRandomDev(Ctx*, const ::grpc::ReseedRandomDevRequest*, Empty*) override;
  ::grpc::Status GetGuestDetails(Ctx*, const ::grpc::GuestDetailsRequest*,
                                 ::grpc::GuestDetailsResponse*) override;
  ::grpc::Status MemHotplugByProbe(Ctx*, const ::grpc::MemHotplugByProbeRequest*, Empty*) override;
  ::grpc::Status SetGuestDateTime(Ctx*, const ::grpc::SetGuestDateTimeRequest*, Empty*) override;
  ::grpc::Status CopyFile(Ctx*, const ::grpc::CopyFileRequest*, Empty*) override;
  ::grpc::Status GetOOMEvent(Ctx*, const ::grpc::GetOOMEventRequest*, ::grpc::OOMEvent*) override;

 private:
  struct Found {
    std::shared_ptr<Container> container;
    std::shared_ptr<Process> process;
  };
  Result<Found> findProcess(const std::string& containerId, const std::string& execId);
  ::grpc::Status readStream(Ctx* ctx, const ::grpc::ReadStreamRequest* req,
                            ::grpc::ReadStreamResponse* resp, bool stderrStream);
  /// Network changes in host test mode only happen in a scratch network namespace.
  ::grpc::Status networkChangeAllowed(const char* rpc) const;

  Sandbox& sandbox_;
  GuestServices guest_;
  std::function<void()> onDestroySandbox_;
};

}  // namespace kata::agent
