// The containerd task API (containerd.task.v2.Task, protocols/containerd/task/shim.proto) as a
// C++ interface, and its glue to the ttrpc server: the service implementation (task_service.h)
// sees decoded requests and returns typed replies or a kata::Error; registerTaskService decodes,
// calls and encodes, and turns errors into the gRPC codes containerd's errdefs understand.
#pragma once

#include <google/protobuf/empty.pb.h>

#include "lib/result.h"
#include "lib/ttrpc_server.h"
#include "protocols/containerd/task/shim.pb.h"

namespace kata::shimv2 {

namespace taskapi = ::containerd::task::v2;
using Empty = ::google::protobuf::Empty;

inline constexpr const char* kTaskService = "containerd.task.v2.Task";

/// One method per Task rpc. Handlers run on threads of their own (lib/ttrpc_server.h) and may
/// block; Context::done() tells when the caller has given up. An Error's errno picks the code
/// containerd sees (errorCode), its str() is the message.
class TaskHandler {
 public:
  virtual ~TaskHandler() = default;

  virtual Result<taskapi::StateResponse> state(ttrpc::Context& ctx,
                                               const taskapi::StateRequest& req) = 0;
  virtual Result<taskapi::CreateTaskResponse> create(ttrpc::Context& ctx,
                                                     const taskapi::CreateTaskRequest& req) = 0;
  virtual Result<taskapi::StartResponse> start(ttrpc::Context& ctx,
                                               const taskapi::StartRequest& req) = 0;
  /// The Delete rpc (`delete` is a C++ keyword).
  virtual Result<taskapi::DeleteResponse> remove(ttrpc::Context& ctx,
                                                 const taskapi::DeleteRequest& req) = 0;
  virtual Result<taskapi::PidsResponse> pids(ttrpc::Context& ctx,
                                             const taskapi::PidsRequest& req) = 0;
  virtual Result<Empty> pause(ttrpc::Context& ctx, const taskapi::PauseRequest& req) = 0;
  virtual Result<Empty> resume(ttrpc::Context& ctx, const taskapi::ResumeRequest& req) = 0;
  virtual Result<Empty> checkpoint(ttrpc::Context& ctx,
                                   const taskapi::CheckpointTaskRequest& req) = 0;
  virtual Result<Empty> kill(ttrpc::Context& ctx, const taskapi::KillRequest& req) = 0;
  virtual Result<Empty> exec(ttrpc::Context& ctx, const taskapi::ExecProcessRequest& req) = 0;
  virtual Result<Empty> resizePty(ttrpc::Context& ctx, const taskapi::ResizePtyRequest& req) = 0;
  virtual Result<Empty> closeIO(ttrpc::Context& ctx, const taskapi::CloseIORequest& req) = 0;
  virtual Result<Empty> update(ttrpc::Context& ctx, const taskapi::UpdateTaskRequest& req) = 0;
  virtual Result<taskapi::WaitResponse> wait(ttrpc::Context& ctx,
                                             const taskapi::WaitRequest& req) = 0;
  virtual Result<taskapi::StatsResponse> stats(ttrpc::Context& ctx,
                                               const taskapi::StatsRequest& req) = 0;
  virtual Result<taskapi::ConnectResponse> connect(ttrpc::Context& ctx,
                                                   const taskapi::ConnectRequest& req) = 0;
  virtual Result<Empty> shutdown(ttrpc::Context& ctx, const taskapi::ShutdownRequest& req) = 0;
};

/// The gRPC code containerd's errdefs.FromGRPC turns into the error class it tests for:
///   ENOENT, ESRCH (no such process: containerd treats a kill of an exited process as
///     not found, as runc's shim reports it)           -> NotFound
///   EEXIST                                             -> AlreadyExists
///   EINVAL                                             -> InvalidArgument
///   ENOTSUP/EOPNOTSUPP, ENOSYS                         -> Unimplemented
///   EBUSY, EALREADY (wrong state for the operation)    -> FailedPrecondition
///   EAGAIN, ECONNREFUSED, ECONNRESET (agent not reachable) -> Unavailable
///   ETIMEDOUT                                          -> DeadlineExceeded
///   ECANCELED                                          -> Canceled
///   anything else                                      -> Unknown
ttrpc::Code errorCode(const Error& error);

/// Registers the 17 methods of containerd.task.v2.Task on `server`, each calling `handler`
/// (which must outlive the server). A request that does not decode is InvalidArgument naming
/// the method; a handler's error becomes errorCode(error) with the error's one-line text.
Status registerTaskService(ttrpc::Server& server, TaskHandler& handler);

}  // namespace kata::shimv2
