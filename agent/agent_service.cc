#include "agent/agent_service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "agent/command.h"
#include "agent/grpc_status.h"
#include "agent/network.h"
#include "agent/process_list.h"
#include "lib/container_id.h"
#include "lib/log.h"
#include "lib/unique_fd.h"
#include "protocols/agent_wire.h"

namespace kata::agent {

namespace {

constexpr size_t kMaxReadChunk = 1 << 20;
constexpr size_t kDefaultReadChunk = 32 * 1024;

CancelCheck cancelOf(::grpc::ServerContext* ctx) {
  return [ctx] { return ctx->IsCancelled(); };
}

::grpc::Status invalid(const std::string& msg) {
  return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, msg);
}

::grpc::Status tracingNotSupported(const char* rpc) {
  return ::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED,
                        std::string(rpc) + ": tracing is not supported (agent built without it)");
}

// The process an exec id names in a container ("" or the init's exec id: the init).
Result<std::shared_ptr<Process>> processOf(const Container& c, const std::string& execId) {
  if (!execId.empty()) KATA_TRY_CTX(validateContainerId(execId), "exec id");
  return c.process(execId);
}

}  // namespace

Result<AgentService::Found> AgentService::findProcess(const std::string& containerId,
                                                      const std::string& execId) {
  KATA_ASSIGN_OR_RETURN(auto c, sandbox_.container(containerId));
  KATA_ASSIGN_OR_RETURN(auto p, processOf(*c, execId));
  return Found{std::move(c), std::move(p)};
}

::grpc::Status AgentService::CreateContainer(Ctx*, const ::grpc::CreateContainerRequest* req,
                                             Empty*) {
  auto s = sandbox_.createContainer(*req);
  if (!s.ok()) {
    log::error("create container failed",
               {{"container", req->container_id().substr(0, 128)}, {"error", s.error().str()}});
  }
  return toGrpcStatus(s);
}

::grpc::Status AgentService::StartContainer(Ctx*, const ::grpc::StartContainerRequest* req,
                                            Empty*) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  return toGrpcStatus((*c)->start());
}

::grpc::Status AgentService::RemoveContainer(Ctx*, const ::grpc::RemoveContainerRequest* req,
                                             Empty*) {
  return toGrpcStatus(sandbox_.removeContainer(req->container_id(), req->timeout()));
}

::grpc::Status AgentService::ExecProcess(Ctx*, const ::grpc::ExecProcessRequest* req, Empty*) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  auto p = (*c)->exec(*req);
  if (!p.ok()) {
    log::error("exec failed", {{"container", req->container_id()},
                               {"exec", req->exec_id().substr(0, 128)},
                               {"error", p.error().str()}});
    return toGrpcStatus(p.error());
  }
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::SignalProcess(Ctx*, const ::grpc::SignalProcessRequest* req, Empty*) {
  if (req->signal() >= static_cast<uint32_t>(NSIG)) {
    return invalid("signal " + std::to_string(req->signal()) + " is out of range");
  }
  int signal = static_cast<int>(req->signal());
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) {
    // As upstream's agent, which wraps the lookup error: "could not signal".
    if (c.error().code != ENOENT) return toGrpcStatus(c.error());
    return ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                          "could not signal process: " + c.error().str());
  }
  if ((*c)->state() == ContainerState::Stopped) {
    // As upstream's agent: once the init has exited, a signal (often a shim forwarding one
    // after the fact) has nobody to reach, and that is not the caller's error.
    log::info("signal dropped: the container has stopped",
              {{"container", req->container_id()}, {"signal", std::to_string(signal)}});
    return ::grpc::Status::OK;
  }
  // As the Kata 1.x agent: no exec id means every process of the container (kill --all).
  if (req->exec_id().empty()) return toGrpcStatus((*c)->signalAll(signal));
  auto p = processOf(**c, req->exec_id());
  if (!p.ok()) return toGrpcStatus(p.error());
  return toGrpcStatus((*p)->signal(signal));
}

::grpc::Status AgentService::WaitProcess(Ctx* ctx, const ::grpc::WaitProcessRequest* req,
                                         ::grpc::WaitProcessResponse* resp) {
  auto found = findProcess(req->container_id(), req->exec_id());
  if (!found.ok()) return toGrpcStatus(found.error());
  auto cancelled = cancelOf(ctx);
  auto code = found->process->waitExit(cancelled);
  // A caller that gave up never gets the status: it is not collected.
  if (!code || cancelled()) return ::grpc::Status(::grpc::StatusCode::CANCELLED, "wait cancelled");
  found->process->markWaited();
  found->container->forgetIfFinished(found->process);
  resp->set_status(*code);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::ListProcesses(Ctx*, const ::grpc::ListProcessesRequest* req,
                                           ::grpc::ListProcessesResponse* resp) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  if (req->format() == "json") {
    resp->set_process_list(pidsJson((*c)->pids()));
    return ::grpc::Status::OK;
  }
  if (!req->format().empty() && req->format() != "table") {
    return invalid("ListProcesses format \"" + req->format().substr(0, 32) +
                   "\" is not \"json\" or \"table\"");
  }
  auto args = psArguments({req->args().begin(), req->args().end()});
  if (!args.ok()) return toGrpcStatus(args.error());
  std::vector<std::string> argv{"ps"};
  argv.insert(argv.end(), args->begin(), args->end());
  auto ps = runHelperCommand(sandbox_.reaper(), argv, 30);
  if (!ps.ok()) return toGrpcStatus(ps.error());
  if (ps->exitCode != 0) {
    return invalid("ps " + args->front().substr(0, 64) + "... exited with status " +
                   std::to_string(ps->exitCode));
  }
  // The pids after ps ran: a process that started meanwhile is listed if ps saw it.
  auto table = filterPsTable(ps->out, (*c)->pids());
  if (!table.ok()) return toGrpcStatus(table.error());
  resp->set_process_list(*table);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::UpdateContainer(Ctx*, const ::grpc::UpdateContainerRequest* req,
                                             Empty*) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  return toGrpcStatus((*c)->update(req->resources()));
}

::grpc::Status AgentService::StatsContainer(Ctx*, const ::grpc::StatsContainerRequest* req,
                                            ::grpc::StatsContainerResponse* resp) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  (*c)->stats(resp->mutable_cgroup_stats());
  // Containers share the VM's network namespace: its interfaces are theirs.
  for (auto& n : net::networkStats()) *resp->add_network_stats() = std::move(n);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::PauseContainer(Ctx*, const ::grpc::PauseContainerRequest* req,
                                            Empty*) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  return toGrpcStatus((*c)->pause());
}

::grpc::Status AgentService::ResumeContainer(Ctx*, const ::grpc::ResumeContainerRequest* req,
                                             Empty*) {
  auto c = sandbox_.container(req->container_id());
  if (!c.ok()) return toGrpcStatus(c.error());
  return toGrpcStatus((*c)->resume());
}

::grpc::Status AgentService::WriteStdin(Ctx* ctx, const ::grpc::WriteStreamRequest* req,
                                        ::grpc::WriteStreamResponse* resp) {
  auto found = findProcess(req->container_id(), req->exec_id());
  if (!found.ok()) return toGrpcStatus(found.error());
  auto n = found->process->stdinStream()->write(req->data(), cancelOf(ctx));
  if (!n.ok()) return toGrpcStatus(n.error());
  resp->set_len(static_cast<uint32_t>(*n));
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::readStream(Ctx* ctx, const ::grpc::ReadStreamRequest* req,
                                        ::grpc::ReadStreamResponse* resp, bool stderrStream) {
  auto found = findProcess(req->container_id(), req->exec_id());
  if (!found.ok()) return toGrpcStatus(found.error());
  auto& p = found->process;
  OutputStream* stream = stderrStream ? p->stderrStream() : p->stdoutStream();
  if (!stream) return wire::endOfStream();  // a terminal has no separate stderr
  size_t len = req->len() == 0 ? kDefaultReadChunk : std::min<size_t>(req->len(), kMaxReadChunk);
  auto cancelled = cancelOf(ctx);
  std::string data = stream->read(len, cancelled);
  if (data.empty()) {
    if (cancelled()) return ::grpc::Status(::grpc::StatusCode::CANCELLED, "read cancelled");
    found->container->forgetIfFinished(p);
    return wire::endOfStream();
  }
  resp->set_data(std::move(data));
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::ReadStdout(Ctx* ctx, const ::grpc::ReadStreamRequest* req,
                                        ::grpc::ReadStreamResponse* resp) {
  return readStream(ctx, req, resp, false);
}

::grpc::Status AgentService::ReadStderr(Ctx* ctx, const ::grpc::ReadStreamRequest* req,
                                        ::grpc::ReadStreamResponse* resp) {
  return readStream(ctx, req, resp, true);
}

::grpc::Status AgentService::CloseStdin(Ctx*, const ::grpc::CloseStdinRequest* req, Empty*) {
  auto found = findProcess(req->container_id(), req->exec_id());
  if (!found.ok()) return toGrpcStatus(found.error());
  return toGrpcStatus(found->process->stdinStream()->close());
}

::grpc::Status AgentService::TtyWinResize(Ctx*, const ::grpc::TtyWinResizeRequest* req, Empty*) {
  auto found = findProcess(req->container_id(), req->exec_id());
  if (!found.ok()) return toGrpcStatus(found.error());
  int master = found->process->ptyMaster();
  if (master < 0) {
    return ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                          "process has no terminal to resize");
  }
  if (req->row() > 0xffff || req->column() > 0xffff) return invalid("terminal size out of range");
  return toGrpcStatus(resizeTerminal(master, req->row(), req->column()));
}

::grpc::Status AgentService::networkChangeAllowed(const char* rpc) const {
  if (sandbox_.guestMode() || !net::inInitialNetworkNamespace()) return ::grpc::Status::OK;
  return ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                        std::string(rpc) +
                            " refused: the agent runs in the host's network namespace (host test "
                            "mode); start it in a scratch namespace");
}

::grpc::Status AgentService::UpdateInterface(Ctx*, const ::grpc::UpdateInterfaceRequest* req,
                                             ::types::Interface* resp) {
  if (!req->has_interface()) return invalid("UpdateInterface: interface is missing");
  if (auto s = networkChangeAllowed("UpdateInterface"); !s.ok()) return s;
  auto i = net::updateInterface(req->interface());
  if (!i.ok()) return toGrpcStatus(i.error());
  *resp = std::move(i).value();
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::UpdateRoutes(Ctx*, const ::grpc::UpdateRoutesRequest* req,
                                          ::grpc::Routes* resp) {
  if (auto s = networkChangeAllowed("UpdateRoutes"); !s.ok()) return s;
  const auto& list = req->routes().routes();
  if (auto s = net::updateRoutes({list.begin(), list.end()}); !s.ok()) return toGrpcStatus(s);
  auto now = net::listRoutes();
  if (!now.ok()) return toGrpcStatus(now.error());
  for (auto& r : *now) *resp->add_routes() = std::move(r);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::ListInterfaces(Ctx*, const ::grpc::ListInterfacesRequest*,
                                            ::grpc::Interfaces* resp) {
  auto list = net::listInterfaces();
  if (!list.ok()) return toGrpcStatus(list.error());
  for (auto& i : *list) *resp->add_interfaces() = std::move(i);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::ListRoutes(Ctx*, const ::grpc::ListRoutesRequest*,
                                        ::grpc::Routes* resp) {
  auto list = net::listRoutes();
  if (!list.ok()) return toGrpcStatus(list.error());
  for (auto& r : *list) *resp->add_routes() = std::move(r);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::AddARPNeighbors(Ctx*, const ::grpc::AddARPNeighborsRequest* req,
                                             Empty*) {
  if (auto s = networkChangeAllowed("AddARPNeighbors"); !s.ok()) return s;
  const auto& list = req->neighbors().arpneighbors();
  return toGrpcStatus(net::addArpNeighbors({list.begin(), list.end()}));
}

::grpc::Status AgentService::StartTracing(Ctx*, const ::grpc::StartTracingRequest*, Empty*) {
  return tracingNotSupported("StartTracing");
}
::grpc::Status AgentService::StopTracing(Ctx*, const ::grpc::StopTracingRequest*, Empty*) {
  return tracingNotSupported("StopTracing");
}
::grpc::Status AgentService::GetOOMEvent(Ctx* ctx, const ::grpc::GetOOMEventRequest*,
                                         ::grpc::OOMEvent* resp) {
  auto id = sandbox_.oomMonitor().next(cancelOf(ctx));
  if (!id) return ::grpc::Status(::grpc::StatusCode::CANCELLED, "GetOOMEvent cancelled");
  resp->set_container_id(*id);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::CreateSandbox(Ctx*, const ::grpc::CreateSandboxRequest* req, Empty*) {
  auto s = sandbox_.create(*req);
  if (!s.ok()) log::error("create sandbox failed", {{"error", s.error().str()}});
  return toGrpcStatus(s);
}

::grpc::Status AgentService::DestroySandbox(Ctx*, const ::grpc::DestroySandboxRequest*, Empty*) {
  auto s = sandbox_.destroy();
  if (!s.ok()) log::warn("destroy sandbox", {{"error", s.error().str()}});
  if (onDestroySandbox_) onDestroySandbox_();
  return toGrpcStatus(s);
}

::grpc::Status AgentService::OnlineCPUMem(Ctx*, const ::grpc::OnlineCPUMemRequest* req, Empty*) {
  if (auto s = guest_.onlineCpuMem(*req); !s.ok()) return toGrpcStatus(s);
  if (req->nb_cpus() == 0) return ::grpc::Status::OK;
  return toGrpcStatus(guest_.widenCpusets(sandbox_.unpinnedCgroupPaths()));
}

::grpc::Status AgentService::ReseedRandomDev(Ctx*, const ::grpc::ReseedRandomDevRequest* req,
                                             Empty*) {
  return toGrpcStatus(guest_.reseedRandom(req->data()));
}

::grpc::Status AgentService::GetGuestDetails(Ctx*, const ::grpc::GuestDetailsRequest* req,
                                             ::grpc::GuestDetailsResponse* resp) {
  guest_.guestDetails(*req, resp);
  return ::grpc::Status::OK;
}

::grpc::Status AgentService::MemHotplugByProbe(Ctx*, const ::grpc::MemHotplugByProbeRequest* req,
                                               Empty*) {
  const auto& a = req->memhotplugprobeaddr();
  return toGrpcStatus(guest_.memHotplugByProbe({a.begin(), a.end()}));
}

::grpc::Status AgentService::SetGuestDateTime(Ctx*, const ::grpc::SetGuestDateTimeRequest* req,
                                              Empty*) {
  return toGrpcStatus(guest_.setDateTime(req->sec(), req->usec()));
}

::grpc::Status AgentService::CopyFile(Ctx*, const ::grpc::CopyFileRequest* req, Empty*) {
  return toGrpcStatus(guest_.copyFile(*req));
}

}  // namespace kata::agent
