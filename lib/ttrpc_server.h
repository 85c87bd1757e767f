// A ttrpc server (containerd's RPC over unix sockets, as a shim v2 serves its task API).
//
// Threading: one I/O thread per connection and one thread per running call, both bounded
// (ServerOptions). Handlers block, and for long: Wait until a process exits, Create while a VM
// boots, every agent call is a synchronous gRPC call. Whatever carries the socket I/O, each
// running call needs a thread of its own, so an event loop (libuv, as lib/yamux uses for
// byte pumps that never block) would add a hand-off per reply without saving a thread.
// containerd keeps one or two connections per shim, so a thread per connection costs little.
// The connection's thread alone reads and writes its socket (non-blocking, poll): a client
// that stops reading stalls nothing but its own connection, and it is closed after
// writeTimeoutMs without progress. Handlers queue their reply and wake that thread.
//
// Protocol behaviour, as upstream's server (github.com/containerd/ttrpc) answers:
//  * unknown service or method: Unimplemented, naming it;
//  * a frame above 4 MiB: skipped unread, ResourceExhausted on its stream, the connection goes on;
//  * a malformed ttrpc.Request, an even stream id or one not above the previous one:
//    InvalidArgument on that stream, the connection goes on;
//  * streaming requests (ttrpc 1.2; containerd 1.6 sends none): Unimplemented;
//  * frames of other types (data, responses, unknown): ignored, for forward compatibility;
//  * timeout_nano > 0: when it passes before the handler returns, the client gets
//    DeadlineExceeded at once, the handler's Context reports done(), and its late reply is
//    dropped;
//  * the client closing the connection cancels its running calls (Canceled).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/result.h"
#include "lib/ttrpc_frame.h"
#include "lib/ttrpc_message.h"
#include "lib/unique_fd.h"

namespace kata::ttrpc {

using Clock = std::chrono::steady_clock;

/// Shared between a running call's Context and the connection that cancels it.
struct CallState;

/// What a handler sees of its call. Valid for the duration of the handler call.
class Context {
 public:
  Context(const Request& request, std::optional<Clock::time_point> deadline,
          std::shared_ptr<CallState> state);

  const std::string& service() const { return request_.service; }
  const std::string& method() const { return request_.method; }
  const Metadata& metadata() const { return request_.metadata; }
  /// From the request's timeout_nano; none when it was 0.
  std::optional<Clock::time_point> deadline() const { return deadline_; }

  /// True once the call was cancelled: its deadline passed (DeadlineExceeded), the client
  /// closed the connection or the server stopped (Canceled). The client has had its answer
  /// then, and whatever the handler returns is dropped: it should return soon.
  bool done() const;
  /// Why done(): DeadlineExceeded or Canceled (Ok while not done).
  Code doneReason() const;
  /// Sleeps until done() or `timeout`; returns done().
  bool waitDone(std::chrono::milliseconds timeout) const;
  /// Runs `hook` once when the call is cancelled, or at once if it already is, for a handler
  /// that sleeps on a condition of its own. Runs on the cancelling thread: it must not block.
  void onDone(std::function<void()> hook);

 private:
  const Request& request_;
  std::optional<Clock::time_point> deadline_;
  std::shared_ptr<CallState> state_;
};

/// A method: takes the serialized request message, returns the serialized reply or a status.
using Handler = std::function<Reply(Context& context, std::string_view payload)>;

/// The registered services and their methods.
class ServiceTable {
 public:
  /// Fails (EEXIST) when the method is registered already.
  Status add(const std::string& service, const std::string& method, Handler handler);
  bool hasService(std::string_view service) const;
  /// Null when unknown.
  const Handler* find(std::string_view service, std::string_view method) const;

 private:
  std::map<std::string, std::map<std::string, Handler, std::less<>>, std::less<>> services_;
};

/// The server side of one connection, without I/O: decides what each frame from the client
/// asks for. Fuzzed (tests/fuzz/ttrpc_fuzz.cc).
class ServerProtocol {
 public:
  struct Action {
    enum class Kind { Ignore, Refuse, Dispatch };
    Kind kind = Kind::Ignore;
    uint32_t streamId = 0;
    RpcStatus refusal;                 // Refuse: the status to answer with
    Request request;                   // Dispatch: the decoded request
    const Handler* handler = nullptr;  // Dispatch: its method
  };

  explicit ServerProtocol(const ServiceTable& services) : services_(services) {}
  Action onFrame(const Frame& frame);

 private:
  const ServiceTable& services_;
  uint32_t lastStreamId_ = 0;
};

/// The response frame for `reply` on `streamId`. A reply that does not fit in one frame
/// becomes a ResourceExhausted status saying so (the client gets an answer either way).
std::string encodeResponseFrame(uint32_t streamId, const Reply& reply);

struct ServerOptions {
  size_t maxConnections = 16;          // more are accepted and closed at once
  size_t maxCallsPerConnection = 128;  // running calls; more get ResourceExhausted
  int writeTimeoutMs = 30000;          // a client not reading for this long is dropped
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Registers a method. Only before the first listen()/serveConnection() (EBUSY after).
  Status registerMethod(const std::string& service, const std::string& method, Handler handler);

  /// Creates a unix socket at `path` (mode 0600; a stale socket is replaced, a live one is an
  /// error) and serves it from a thread of its own. stop() unlinks it.
  Status listen(const std::string& path);
  /// Serves an already listening socket (e.g. inherited); it is not unlinked on stop().
  Status serveListener(UniqueFd listener);
  /// Serves one connected stream socket (tests, or a socket accepted elsewhere).
  Status serveConnection(UniqueFd connection);

  /// Stops accepting, waits up to `grace` for the running calls to finish and their replies
  /// to be written, then stop().
  /// Fails (EDEADLK) from inside a handler, which it would wait for.
  Status shutdown(std::chrono::milliseconds grace);
  /// Closes the listeners and connections and cancels the running calls; returns once every
  /// handler has returned. Fails (EDEADLK) from inside a handler.
  Status stop();

  /// Connections being served.
  size_t connectionCount() const;

 private:
  class Connection;
  struct Listener {
    UniqueFd fd;
    UniqueFd wake;     // eventfd: stop() wakes the accept loop
    std::string path;  // unlinked on stop; empty for serveListener
    std::thread thread;
  };

  Status startListener(UniqueFd fd, const std::string& path);
  void acceptLoop(Listener* listener);
  void closeListeners();
  Status addConnection(UniqueFd fd);
  void reapFinishedLocked();

  ServerOptions options_;
  ServiceTable services_;
  mutable std::mutex mu_;
  bool serving_ = false;   // registration closed
  bool stopping_ = false;  // no new connections
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::shared_ptr<Connection>> connections_;
};

}  // namespace kata::ttrpc
