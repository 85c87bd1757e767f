// An in-process stand-in for kata-agent's stream API, served with real gRPC on a unix socket,
// so that the shim's relay logic is exercised over the same wire it uses in production.
// Its state outlives a server, so a test can stop the "agent" and start it again.
//
// It answers as upstream Kata 1.x's agent does (kata-containers/agent grpc.go): a stream that
// ended is UNKNOWN "EOF" (eofStyle selects the other forms: OUT_OF_RANGE "EOF" of upstream built
// with an older gRPC-Go, the empty OK reply of our older agents), and once WaitProcess has
// answered the process is forgotten: its unread output is dropped, a blocked read fails, and
// every later call naming it is NOT_FOUND.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocols/agent.grpc.pb.h"

namespace kata::shim::testing {

/// How the fake agent says that a stream ended.
enum class EofStyle { UnknownEof, OutOfRangeEof, EmptyOk };

/// What the fake agent has been told and what it will answer.
struct FakeAgentState {
  std::mutex mu;
  std::condition_variable cv;

  // Output queued for ReadStdout/ReadStderr; an empty string is the end of the stream (and
  // stays so).
  std::deque<std::string> stdoutQueue, stderrQueue;
  bool stdoutEof = false, stderrEof = false;
  int readErrorsToReturn = 0;  // the next N ReadStdout calls fail (FAILED_PRECONDITION)
  std::optional<int> exitStatus;
  std::deque<std::string> oomEvents;          // container ids GetOOMEvent answers, in order
  std::optional<::grpc::Status> waitFailure;  // WaitProcess answers this instead of waiting
  bool goingAway = false;                     // the server is shutting down: blocked calls return
  EofStyle eofStyle = EofStyle::UnknownEof;
  bool forgotten = false;    // WaitProcess answered: the process is gone
  size_t droppedByWait = 0;  // output bytes still unread when WaitProcess answered

  // What the shim did.
  std::string stdinData;
  bool stdinClosed = false;
  bool stdinClosedAfterData = true;
  std::vector<uint32_t> signals;
  std::vector<std::pair<uint32_t, uint32_t>> resizes;  // (rows, columns)
  std::vector<uint32_t> readLens;
  int waitCalls = 0;
  std::vector<std::string> badIds;  // requests naming another container/exec id

  std::string container = "c1";
  std::string execId = "c1";

  void pushStdout(std::string data) { push(stdoutQueue, std::move(data)); }
  void pushStderr(std::string data) { push(stderrQueue, std::move(data)); }
  void exitWith(int status) {
    std::lock_guard lock(mu);
    exitStatus = status;
    cv.notify_all();
  }
  /// Waits until `pred` (evaluated under the lock) holds; false after `timeout`.
  bool waitUntil(const std::function<bool()>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    // Polls as well as waits: not every state change notifies.
    auto end = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mu);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      cv.wait_for(lock, std::chrono::milliseconds(10));
    }
    return true;
  }

 private:
  void push(std::deque<std::string>& q, std::string data) {
    std::lock_guard lock(mu);
    q.push_back(std::move(data));
    cv.notify_all();
  }
};

class FakeAgentService final : public ::grpc::AgentService::Service {
 public:
  explicit FakeAgentService(std::shared_ptr<FakeAgentState> state) : s_(std::move(state)) {}

  ::grpc::Status ReadStdout(::grpc::ServerContext* ctx, const ::grpc::ReadStreamRequest* req,
                            ::grpc::ReadStreamResponse* resp) override {
    return read(ctx, req, resp, s_->stdoutQueue, s_->stdoutEof, true);
  }
  ::grpc::Status ReadStderr(::grpc::ServerContext* ctx, const ::grpc::ReadStreamRequest* req,
                            ::grpc::ReadStreamResponse* resp) override {
    return read(ctx, req, resp, s_->stderrQueue, s_->stderrEof, false);
  }
  ::grpc::Status WriteStdin(::grpc::ServerContext*, const ::grpc::WriteStreamRequest* req,
                            ::grpc::WriteStreamResponse* resp) override {
    std::lock_guard lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    if (s_->forgotten) return notFound();
    if (s_->stdinClosed) s_->stdinClosedAfterData = false;
    // Accept at most 1000 bytes per call, so the shim must handle short writes.
    size_t n = std::min<size_t>(req->data().size(), 1000);
    s_->stdinData.append(req->data(), 0, n);
    resp->set_len(static_cast<uint32_t>(n));
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }
  ::grpc::Status CloseStdin(::grpc::ServerContext*, const ::grpc::CloseStdinRequest* req,
                            ::google::protobuf::Empty*) override {
    std::lock_guard lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    if (s_->forgotten) return notFound();
    s_->stdinClosed = true;
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }
  ::grpc::Status SignalProcess(::grpc::ServerContext*, const ::grpc::SignalProcessRequest* req,
                               ::google::protobuf::Empty*) override {
    std::lock_guard lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    s_->signals.push_back(req->signal());
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }
  ::grpc::Status TtyWinResize(::grpc::ServerContext*, const ::grpc::TtyWinResizeRequest* req,
                              ::google::protobuf::Empty*) override {
    std::lock_guard lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    if (s_->forgotten) return notFound();
    s_->resizes.emplace_back(req->row(), req->column());
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }
  ::grpc::Status WaitProcess(::grpc::ServerContext* ctx, const ::grpc::WaitProcessRequest* req,
                             ::grpc::WaitProcessResponse* resp) override {
    std::unique_lock lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    ++s_->waitCalls;
    s_->cv.notify_all();
    if (s_->waitFailure) return *s_->waitFailure;
    if (s_->forgotten) return notFound();
    while (!s_->exitStatus) {
      if (s_->goingAway) return goingAway();
      if (ctx->IsCancelled()) return ::grpc::Status::CANCELLED;
      s_->cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    resp->set_status(*s_->exitStatus);
    // Upstream's agent closes the process's pipes and deletes it when it answers.
    s_->forgotten = true;
    for (auto* q : {&s_->stdoutQueue, &s_->stderrQueue}) {
      for (const auto& chunk : *q) s_->droppedByWait += chunk.size();
      q->clear();
    }
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }

  ::grpc::Status GetOOMEvent(::grpc::ServerContext* ctx, const ::grpc::GetOOMEventRequest*,
                             ::grpc::OOMEvent* resp) override {
    std::unique_lock lock(s_->mu);
    while (s_->oomEvents.empty()) {
      if (s_->goingAway) return goingAway();
      if (ctx->IsCancelled()) return ::grpc::Status::CANCELLED;
      s_->cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    resp->set_container_id(s_->oomEvents.front());
    s_->oomEvents.pop_front();
    return ::grpc::Status::OK;
  }

 private:
  static ::grpc::Status goingAway() {
    return ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "agent going away");
  }
  ::grpc::Status notFound() const {
    return ::grpc::Status(::grpc::StatusCode::NOT_FOUND,
                          "Process " + s_->execId + " not found (container " + s_->container + ")");
  }
  ::grpc::Status endOfStream() const {
    switch (s_->eofStyle) {
      case EofStyle::UnknownEof:
        return ::grpc::Status(::grpc::StatusCode::UNKNOWN, "EOF");
      case EofStyle::OutOfRangeEof:
        return ::grpc::Status(::grpc::StatusCode::OUT_OF_RANGE, "EOF");
      case EofStyle::EmptyOk:
        break;
    }
    return ::grpc::Status::OK;  // empty data
  }

  void checkIds(const std::string& container, const std::string& exec) {
    if (container != s_->container || exec != s_->execId) {
      s_->badIds.push_back(container + "/" + exec);
    }
  }

  ::grpc::Status read(::grpc::ServerContext* ctx, const ::grpc::ReadStreamRequest* req,
                      ::grpc::ReadStreamResponse* resp, std::deque<std::string>& q, bool& eof,
                      bool isStdout) {
    std::unique_lock lock(s_->mu);
    checkIds(req->container_id(), req->exec_id());
    s_->readLens.push_back(req->len());
    s_->cv.notify_all();
    if (s_->forgotten) return notFound();
    if (isStdout && s_->readErrorsToReturn > 0) {
      --s_->readErrorsToReturn;
      return ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION, "not started");
    }
    while (!eof && q.empty()) {
      if (s_->goingAway) return goingAway();
      if (ctx->IsCancelled()) return ::grpc::Status::CANCELLED;
      // What upstream's Go agent answers a read blocked on a pipe that WaitProcess closed.
      if (s_->forgotten)
        return ::grpc::Status(::grpc::StatusCode::UNKNOWN, "read |0: file already closed");
      s_->cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (eof) return endOfStream();
    std::string& front = q.front();
    if (front.empty()) {
      eof = true;
      q.pop_front();
      return endOfStream();
    }
    size_t n = std::min<size_t>(front.size(), req->len());
    resp->set_data(front.substr(0, n));
    front.erase(0, n);
    if (front.empty()) q.pop_front();
    s_->cv.notify_all();
    return ::grpc::Status::OK;
  }

  std::shared_ptr<FakeAgentState> s_;
};

/// A gRPC server for FakeAgentService on a unix socket.
class FakeAgentServer {
 public:
  FakeAgentServer(std::shared_ptr<FakeAgentState> state, const std::string& socketPath)
      : state_(std::move(state)), service_(state_) {
    {
      std::lock_guard lock(state_->mu);
      state_->goingAway = false;
    }
    ::grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socketPath, ::grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeAgentServer() { stop(); }

  bool ok() const { return server_ != nullptr; }
  /// Ends every blocked call with UNAVAILABLE and closes all connections, like a dying proxy.
  void stop() {
    if (!server_) return;
    {
      std::lock_guard lock(state_->mu);
      state_->goingAway = true;
      state_->cv.notify_all();
    }
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }

 private:
  std::shared_ptr<FakeAgentState> state_;
  FakeAgentService service_;
  std::unique_ptr<::grpc::Server> server_;
};

}  // namespace kata::shim::testing
