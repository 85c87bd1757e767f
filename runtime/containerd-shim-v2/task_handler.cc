#include "runtime/containerd-shim-v2/task_handler.h"

#include <algorithm>
#include <cerrno>
#include <string>

#include "lib/log.h"

namespace kata::shimv2 {
namespace {

using ttrpc::Code;

/// A ttrpc handler for one method: decodes Req, calls `fn` on `handler`, encodes its reply.
template <class Req, class Resp>
Status addMethod(ttrpc::Server& server, const char* method, TaskHandler& handler,
                 Result<Resp> (TaskHandler::*fn)(ttrpc::Context&, const Req&)) {
  return server.registerMethod(
      kTaskService, method,
      [&handler, fn, method](ttrpc::Context& ctx, std::string_view payload) -> ttrpc::Reply {
        Req req;
        if (!req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          return ttrpc::Reply::failure(Code::InvalidArgument, std::string(method) + ": malformed " +
                                                                  Req::descriptor()->full_name());
        }
        Result<Resp> result = (handler.*fn)(ctx, req);
        if (!result.ok()) {
          std::string message = result.error().str();
          std::replace(message.begin(), message.end(), '\n', ' ');  // one line for the log
          Code code = errorCode(result.error());
          log::debug("task " + std::string(method) + " failed",
                     {{"code", ttrpc::codeName(code)}, {"error", message}});
          return ttrpc::Reply::failure(code, std::move(message));
        }
        std::string out;
        if (!result->SerializeToString(&out)) {
          return ttrpc::Reply::failure(Code::Internal, std::string(method) + ": reply not encoded");
        }
        return ttrpc::Reply::success(std::move(out));
      });
}

}  // namespace

ttrpc::Code errorCode(const Error& error) {
  switch (error.code) {
    case ENOENT:
    case ESRCH:
      return Code::NotFound;
    case EEXIST:
      return Code::AlreadyExists;
    case EINVAL:
      return Code::InvalidArgument;
    case ENOTSUP:  // == EOPNOTSUPP on Linux
    case ENOSYS:
      return Code::Unimplemented;
    case EBUSY:
    case EALREADY:
      return Code::FailedPrecondition;
    case EAGAIN:
    case ECONNREFUSED:
    case ECONNRESET:
      return Code::Unavailable;
    case ETIMEDOUT:
      return Code::DeadlineExceeded;
    case ECANCELED:
      return Code::Canceled;
    default:
      return Code::Unknown;
  }
}

Status registerTaskService(ttrpc::Server& server, TaskHandler& h) {
  KATA_TRY(addMethod(server, "State", h, &TaskHandler::state));
  KATA_TRY(addMethod(server, "Create", h, &TaskHandler::create));
  KATA_TRY(addMethod(server, "Start", h, &TaskHandler::start));
  KATA_TRY(addMethod(server, "Delete", h, &TaskHandler::remove));
  KATA_TRY(addMethod(server, "Pids", h, &TaskHandler::pids));
  KATA_TRY(addMethod(server, "Pause", h, &TaskHandler::pause));
  KATA_TRY(addMethod(server, "Resume", h, &TaskHandler::resume));
  KATA_TRY(addMethod(server, "Checkpoint", h, &TaskHandler::checkpoint));
  KATA_TRY(addMethod(server, "Kill", h, &TaskHandler::kill));
  KATA_TRY(addMethod(server, "Exec", h, &TaskHandler::exec));
  KATA_TRY(addMethod(server, "ResizePty", h, &TaskHandler::resizePty));
  KATA_TRY(addMethod(server, "CloseIO", h, &TaskHandler::closeIO));
  KATA_TRY(addMethod(server, "Update", h, &TaskHandler::update));
  KATA_TRY(addMethod(server, "Wait", h, &TaskHandler::wait));
  KATA_TRY(addMethod(server, "Stats", h, &TaskHandler::stats));
  KATA_TRY(addMethod(server, "Connect", h, &TaskHandler::connect));
  KATA_TRY(addMethod(server, "Shutdown", h, &TaskHandler::shutdown));
  return okStatus();
}

}  // namespace kata::shimv2
