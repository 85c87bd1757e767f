// A guest that lies: a real gRPC server for grpc.AgentService and grpc.Health on a unix socket,
// as a compromised guest could put in kata-agent's place, answering each call as the test says:
// any bytes as the reply (oversized, not protobuf), any status and message, no answer at all, or
// the connection cut while the call is in flight. It can also skip HTTP/2 altogether and answer
// a connection with raw bytes, for ever if asked. Nothing here trusts the client either: it is
// the host side under test.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace google::protobuf {
class Message;
}

namespace kata::liar {

/// One answer to one call.
struct Answer {
  enum class Kind {
    Reply,  // status OK with `bytes` (then `fillerBytes` more) as the message, parsed or not
    Fail,   // `code` and `message`, sent as they are (gRPC percent-encodes the message)
    Hang,   // never answered: the call stays open until the client gives up
    Cut,    // every connection is shut down while this call is in flight
    Later,  // `later` runs on a thread of its own; its answer is sent when it returns
  };
  Kind kind = Kind::Reply;
  std::string bytes;
  size_t fillerBytes = 0;  // 'x' bytes after `bytes`, from one shared page run (cheap to send)
  bool gzip = false;       // Reply: sent compressed (the client advertises gzip)
  ::grpc::StatusCode code = ::grpc::StatusCode::OK;
  std::string message;
  std::function<Answer()> later;  // may block; should return once LyingAgent::stopping()

  static Answer reply(const google::protobuf::Message& m);
  static Answer raw(std::string bytes, size_t fillerBytes = 0);
  static Answer fail(::grpc::StatusCode code, std::string message);
  static Answer hang();
  static Answer cut();
  static Answer deferred(std::function<Answer()> later);
};

/// Builds the answer to one call from its request (serialized, as received).
using Handler = std::function<Answer(const std::string& request)>;

/// How a new connection is served.
enum class Wire {
  Grpc,            // HTTP/2 and gRPC; calls answered by the handlers
  Garbage,         // `garbage` written at once, then the connection closed
  GarbageForever,  // `garbage` written again and again until the client goes away
  Silent,          // accepted, never written to, closed only when the agent stops
};

class LyingAgent {
 public:
  /// Listens on `socketPath` (created, mode 0600) and serves until destroyed. Every call not
  /// given a handler is answered like an agent that does nothing: Health.Check SERVING, every
  /// other method an OK reply whose message has no fields set.
  static Result<std::unique_ptr<LyingAgent>> start(const std::string& socketPath);
  ~LyingAgent();
  LyingAgent(const LyingAgent&) = delete;
  LyingAgent& operator=(const LyingAgent&) = delete;

  /// `method` is the last part of the gRPC path: "ListProcesses", "Check" (grpc.Health).
  void on(const std::string& method, Handler handler);
  void setWire(Wire wire, std::string garbage = {});

  /// "unix://<socket path>", as agent_url in sandbox.json and kata-shim's -agent.
  std::string url() const { return "unix://" + path_; }
  const std::string& socketPath() const { return path_; }
  /// Calls received for `method` so far.
  int calls(const std::string& method) const;
  /// Connections accepted so far, and raw bytes written by the Garbage wires.
  int connections() const { return connections_; }
  uint64_t garbageBytesWritten() const { return garbageBytes_; }

  /// True once the agent is being destroyed: deferred answers must return.
  bool stopping() const { return stopping_; }

  /// Used by the call reactor (lying_agent.cc).
  Answer answer(const std::string& method, const std::string& request);
  void cutConnections();
  void runLater(std::function<void()> work);

 private:
  LyingAgent() = default;
  void acceptLoop();
  void serveGarbage(UniqueFd fd, std::string garbage, bool forever);

  std::string path_;
  UniqueFd listener_;
  UniqueFd stopEvent_;  // eventfd, readable once the agent stops
  std::unique_ptr<::grpc::CallbackGenericService> service_;
  std::unique_ptr<::grpc::Server> server_;
  std::thread acceptThread_;

  mutable std::mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, int> calls_;
  Wire wire_ = Wire::Grpc;
  std::string garbage_;
  std::vector<UniqueFd> grpcConnections_;  // duplicates, to cut them
  std::vector<std::thread> garbageThreads_;
  std::vector<std::thread> laterThreads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> garbageBytes_{0};
};

}  // namespace kata::liar
