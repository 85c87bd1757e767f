#include "lying_agent.h"

#include <fcntl.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "protocols/health.pb.h"

namespace kata::liar {
namespace {

// 1 MiB of filler shared by every oversized reply: a reply of N MiB is N references to it.
const ::grpc::Slice& fillerSlice() {
  static const ::grpc::Slice slice(std::string(1 << 20, 'x'));
  return slice;
}

::grpc::ByteBuffer toByteBuffer(const Answer& a) {
  std::vector<::grpc::Slice> slices;
  slices.emplace_back(a.bytes);  // even when empty: a buffer without slices is not a message
  size_t left = a.fillerBytes;
  while (left > 0) {
    const ::grpc::Slice& f = fillerSlice();
    if (left >= f.size()) {
      slices.push_back(f);  // a reference, not a copy
      left -= f.size();
    } else {
      slices.emplace_back(std::string(left, 'x'));
      left = 0;
    }
  }
  return ::grpc::ByteBuffer(slices.data(), slices.size());
}

std::string toString(const ::grpc::ByteBuffer& b) {
  std::vector<::grpc::Slice> slices;
  std::string out;
  if (!b.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// One call: read the request, ask the agent's handler, answer (or not) as it says.
class CallReactor final : public ::grpc::ServerGenericBidiReactor {
 public:
  CallReactor(LyingAgent* agent, ::grpc::GenericCallbackServerContext* ctx)
      : agent_(agent), ctx_(ctx), method_(ctx->method().substr(ctx->method().rfind('/') + 1)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      finishOnce(::grpc::Status(::grpc::StatusCode::INTERNAL, "no request"));
      return;
    }
    Answer a = agent_->answer(method_, toString(request_));
    if (a.kind == Answer::Kind::Later) {
      // The reactor is finished only by the deferred answer, so it outlives that thread.
      agent_->runLater([this, later = std::move(a.later)] { send(later()); });
      return;
    }
    send(std::move(a));
  }

  void send(Answer a) {
    switch (a.kind) {
      case Answer::Kind::Reply: {
        std::lock_guard lock(mu_);
        if (finished_) return;
        finished_ = true;
        response_ = toByteBuffer(a);
        if (a.gzip) ctx_->set_compression_algorithm(GRPC_COMPRESS_GZIP);
        StartWriteAndFinish(&response_, ::grpc::WriteOptions(), ::grpc::Status::OK);
        return;
      }
      case Answer::Kind::Fail:
        finishOnce(::grpc::Status(a.code, a.message));
        return;
      case Answer::Kind::Hang:
      case Answer::Kind::Cut: {
        {
          std::lock_guard lock(mu_);
          if (cancelled_) {
            finishLocked(::grpc::Status::CANCELLED);
            return;
          }
          hanging_ = true;
        }
        if (a.kind == Answer::Kind::Cut) agent_->cutConnections();
        return;
      }
      case Answer::Kind::Later:
        finishOnce(::grpc::Status(::grpc::StatusCode::INTERNAL, "nested deferred answer"));
        return;
    }
  }

  // The client gave up (deadline, cancel, closed connection) or the server is stopping: a
  // hanging call is finished now, as gRPC requires of every reactor.
  void OnCancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (hanging_) {
      hanging_ = false;
      finishLocked(::grpc::Status::CANCELLED);
    }
  }

  void OnDone() override { delete this; }

 private:
  void finishOnce(const ::grpc::Status& s) {
    std::lock_guard lock(mu_);
    finishLocked(s);
  }
  void finishLocked(const ::grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  LyingAgent* agent_;
  ::grpc::GenericCallbackServerContext* ctx_;
  std::string method_;
  ::grpc::ByteBuffer request_, response_;
  std::mutex mu_;
  bool finished_ = false, hanging_ = false, cancelled_ = false;
};

class Service final : public ::grpc::CallbackGenericService {
 public:
  explicit Service(LyingAgent* agent) : agent_(agent) {}
  ::grpc::ServerGenericBidiReactor* CreateReactor(
      ::grpc::GenericCallbackServerContext* ctx) override {
    return new CallReactor(agent_, ctx);
  }

 private:
  LyingAgent* agent_;
};

}  // namespace

Answer Answer::reply(const google::protobuf::Message& m) {
  Answer a;
  a.bytes = m.SerializeAsString();
  return a;
}

Answer Answer::raw(std::string bytes, size_t fillerBytes) {
  Answer a;
  a.bytes = std::move(bytes);
  a.fillerBytes = fillerBytes;
  return a;
}

Answer Answer::fail(::grpc::StatusCode code, std::string message) {
  Answer a;
  a.kind = Kind::Fail;
  a.code = code;
  a.message = std::move(message);
  return a;
}

Answer Answer::hang() {
  Answer a;
  a.kind = Kind::Hang;
  return a;
}

Answer Answer::cut() {
  Answer a;
  a.kind = Kind::Cut;
  return a;
}

Answer Answer::deferred(std::function<Answer()> later) {
  Answer a;
  a.kind = Kind::Later;
  a.later = std::move(later);
  return a;
}

Result<std::unique_ptr<LyingAgent>> LyingAgent::start(const std::string& socketPath) {
  std::unique_ptr<LyingAgent> agent(new LyingAgent());
  agent->path_ = socketPath;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof addr.sun_path)
    return makeError("socket path too long: " + socketPath, ENAMETOOLONG);
  socketPath.copy(addr.sun_path, sizeof addr.sun_path - 1);
  agent->listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!agent->listener_) return sysError("socket");
  ::unlink(socketPath.c_str());
  if (::bind(agent->listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("bind " + socketPath);
  if (::chmod(socketPath.c_str(), 0600) != 0) return sysError("chmod " + socketPath);
  if (::listen(agent->listener_.get(), 64) != 0) return sysError("listen " + socketPath);
  agent->stopEvent_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!agent->stopEvent_) return sysError("eventfd");

  agent->service_ = std::make_unique<Service>(agent.get());
  ::grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(agent->service_.get());
  builder.SetMaxSendMessageSize(INT_MAX);  // the liar sends what it likes
  builder.SetMaxReceiveMessageSize(64 << 20);
  agent->server_ = builder.BuildAndStart();
  if (!agent->server_) return makeError("start the gRPC server");
  agent->acceptThread_ = std::thread([a = agent.get()] { a->acceptLoop(); });
  return agent;
}

LyingAgent::~LyingAgent() {
  stopping_ = true;
  uint64_t one = 1;
  if (stopEvent_) (void)!::write(stopEvent_.get(), &one, sizeof one);
  if (acceptThread_.joinable()) acceptThread_.join();
  // Deferred answers return once they see stopping(); they still reach a live server.
  std::vector<std::thread> later;
  {
    std::lock_guard lock(mu_);
    later.swap(laterThreads_);
  }
  for (auto& t : later) t.join();
  cutConnections();  // unblocks the server's reads of connections a client left open
  // Hanging calls are cancelled at once; their reactors finish in OnCancel.
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
  for (auto& t : garbageThreads_) t.join();
  ::unlink(path_.c_str());
}

void LyingAgent::on(const std::string& method, Handler handler) {
  std::lock_guard lock(mu_);
  handlers_[method] = std::move(handler);
}

void LyingAgent::setWire(Wire wire, std::string garbage) {
  std::lock_guard lock(mu_);
  wire_ = wire;
  garbage_ = std::move(garbage);
}

int LyingAgent::calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

Answer LyingAgent::answer(const std::string& method, const std::string& request) {
  Handler h;
  {
    std::lock_guard lock(mu_);
    ++calls_[method];
    auto it = handlers_.find(method);
    if (it != handlers_.end()) h = it->second;
  }
  if (h) return h(request);
  if (method == "Check") {
    ::grpc::HealthCheckResponse r;
    r.set_status(::grpc::HealthCheckResponse::SERVING);
    return Answer::reply(r);
  }
  return Answer::raw("");  // every field at its default: a valid reply of any message type
}

void LyingAgent::runLater(std::function<void()> work) {
  std::lock_guard lock(mu_);
  laterThreads_.emplace_back(std::move(work));
}

void LyingAgent::cutConnections() {
  std::lock_guard lock(mu_);
  for (auto& fd : grpcConnections_) ::shutdown(fd.get(), SHUT_RDWR);
  grpcConnections_.clear();
}

void LyingAgent::acceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stopEvent_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    // Non-blocking: gRPC's endpoint for an adopted descriptor expects it.
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) continue;
    ++connections_;
    std::unique_lock lock(mu_);
    if (wire_ == Wire::Grpc) {
      // Duplicates of connections that the peer has closed are dropped as new ones come.
      std::erase_if(grpcConnections_, [](const UniqueFd& fd) {
        pollfd p{fd.get(), POLLRDHUP, 0};
        return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
      });
      UniqueFd dup(::fcntl(conn.get(), F_DUPFD_CLOEXEC, 3));
      if (dup) grpcConnections_.push_back(std::move(dup));
      lock.unlock();
      ::grpc::AddInsecureChannelFromFd(server_.get(), conn.release());  // gRPC owns it now
    } else if (wire_ == Wire::Silent) {
      grpcConnections_.push_back(std::move(conn));  // closed by cutConnections() at the end
    } else {
      garbageThreads_.emplace_back([this, fd = std::move(conn), g = garbage_,
                                    forever = wire_ == Wire::GarbageForever]() mutable {
        serveGarbage(std::move(fd), std::move(g), forever);
      });
    }
  }
}

void LyingAgent::serveGarbage(UniqueFd fd, std::string garbage, bool forever) {
  do {
    size_t off = 0;
    while (off < garbage.size()) {
      pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {stopEvent_.get(), POLLIN, 0}};
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & (POLLERR | POLLHUP)) != 0) return;
      if ((fds[0].revents & POLLOUT) == 0) continue;
      ssize_t n =
          ::send(fd.get(), garbage.data() + off, garbage.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return;  // the client has gone
      off += size_t(n);
      garbageBytes_ += uint64_t(n);
    }
  } while (forever);
}

}  // namespace kata::liar
