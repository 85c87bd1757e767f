#include "lib/ttrpc_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <system_error>

#include "lib/log.h"
#include "lib/printable.h"
#include "lib/unix_socket.h"

namespace kata::ttrpc {

struct CallState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Code reason = Code::Ok;
  std::function<void()> hook;
};

namespace {

// Set on handler threads: stop() and shutdown() from there would wait for themselves.
thread_local bool tInHandler = false;

// Output above this stops the reading of requests until the client has read some replies.
constexpr size_t kOutputHighWater = 1 << 20;
// A timeout_nano beyond this (about 10 years) is no deadline: the clock cannot overflow.
constexpr int64_t kMaxTimeoutNanos = int64_t{10} * 365 * 24 * 3600 * 1000000000;

void cancelCall(CallState& state, Code reason) {
  std::function<void()> hook;
  {
    std::lock_guard lock(state.mu);
    if (state.done) return;
    state.done = true;
    state.reason = reason;
    hook = std::move(state.hook);
  }
  state.cv.notify_all();
  if (hook) hook();
}

Result<UniqueFd> makeWakeFd() {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return sysError("ttrpc: eventfd");
  return fd;
}

void wake(int fd) {
  uint64_t one = 1;
  // EAGAIN only when the counter is already huge: the reader is awake anyway.
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void drainWake(int fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(fd, &value, sizeof value);
}

Status setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return sysError("ttrpc: set O_NONBLOCK");
  }
  return okStatus();
}

// Milliseconds from now until `t`, rounded up so that a poll() does not wake just before it.
int msUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60 * 60 * 1000));
}

}  // namespace

// ---- Context -------------------------------------------------------------------------------

Context::Context(const Request& request, std::optional<Clock::time_point> deadline,
                 std::shared_ptr<CallState> state)
    : request_(request), deadline_(deadline), state_(std::move(state)) {}

bool Context::done() const {
  std::lock_guard lock(state_->mu);
  return state_->done;
}

Code Context::doneReason() const {
  std::lock_guard lock(state_->mu);
  return state_->reason;
}

bool Context::waitDone(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->done; });
}

void Context::onDone(std::function<void()> hook) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->done) {
      state_->hook = std::move(hook);
      return;
    }
  }
  hook();
}

// ---- ServiceTable, ServerProtocol ----------------------------------------------------------

Status ServiceTable::add(const std::string& service, const std::string& method, Handler handler) {
  if (!services_[service].emplace(method, std::move(handler)).second) {
    return makeError("ttrpc: method " + service + "/" + method + " registered twice", EEXIST);
  }
  return okStatus();
}

bool ServiceTable::hasService(std::string_view service) const {
  return services_.find(service) != services_.end();
}

const Handler* ServiceTable::find(std::string_view service, std::string_view method) const {
  auto s = services_.find(service);
  if (s == services_.end()) return nullptr;
  auto m = s->second.find(method);
  return m == s->second.end() ? nullptr : &m->second;
}

ServerProtocol::Action ServerProtocol::onFrame(const Frame& frame) {
  const FrameHeader& h = frame.header;
  Action action;
  action.streamId = h.streamId;
  auto refuse = [&](Code code, std::string message) {
    action.kind = Action::Kind::Refuse;
    action.refusal = RpcStatus{code, std::move(message)};
    return std::move(action);
  };
  if (frame.oversized) {
    return refuse(Code::ResourceExhausted, "ttrpc: message length " + std::to_string(h.length) +
                                               " exceeds maximum message size of " +
                                               std::to_string(kMaxMessageBytes));
  }
  if (!h.is(MessageType::Request)) return action;  // Ignore
  if (h.streamId % 2 == 0) {
    return refuse(Code::InvalidArgument, "ttrpc: stream id " + std::to_string(h.streamId) +
                                             " is even: client streams must be odd");
  }
  if (h.streamId <= lastStreamId_) {
    return refuse(Code::InvalidArgument, "ttrpc: stream id " + std::to_string(h.streamId) +
                                             " cannot be reused and must increase (last " +
                                             std::to_string(lastStreamId_) + ")");
  }
  lastStreamId_ = h.streamId;
  if ((h.flags & kFlagRemoteOpen) != 0) {
    return refuse(Code::Unimplemented, "ttrpc: streaming requests are not supported");
  }
  auto request = parseRequest(frame.data);
  if (!request) return refuse(Code::InvalidArgument, "ttrpc: " + request.error().str());
  const Handler* handler = services_.find(request->service, request->method);
  if (handler == nullptr) {
    if (!services_.hasService(request->service)) {
      return refuse(Code::Unimplemented,
                    "ttrpc: unknown service " + quotedForError(request->service));
    }
    return refuse(Code::Unimplemented, "ttrpc: unknown method " + quotedForError(request->method) +
                                           " of service " + quotedForError(request->service));
  }
  if (request->timeoutNanos < 0) {
    return refuse(Code::DeadlineExceeded, "ttrpc: the call's timeout has passed already");
  }
  action.kind = Action::Kind::Dispatch;
  action.request = std::move(request).value();
  action.handler = handler;
  return action;
}

std::string encodeResponseFrame(uint32_t streamId, const Reply& reply) {
  std::string data = encodeResponse(reply);
  auto frame = encodeFrame(streamId, MessageType::Response, 0, data);
  if (frame) return std::move(frame).value();
  Reply tooLarge =
      Reply::failure(Code::ResourceExhausted, "ttrpc: reply of " + std::to_string(data.size()) +
                                                  " bytes exceeds maximum message size of " +
                                                  std::to_string(kMaxMessageBytes));
  // A status alone is far below the limit.
  return std::move(encodeFrame(streamId, MessageType::Response, 0, encodeResponse(tooLarge)))
      .value();
}

// ---- Connection ----------------------------------------------------------------------------

class Server::Connection {
 public:
  Connection(UniqueFd fd, UniqueFd wakeFd, const ServiceTable& services,
             const ServerOptions& options)
      : fd_(std::move(fd)), wake_(std::move(wakeFd)), protocol_(services), options_(options) {}

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  /// From any thread: ends the connection; its thread cancels the running calls and returns.
  void close() {
    closing_ = true;
    wake(wake_.get());
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool finished() const { return finished_; }
  /// No handler running and every reply written.
  bool idle() {
    std::lock_guard lock(mu_);
    return outBytes_ == 0 && std::none_of(calls_.begin(), calls_.end(),
                                          [](const auto& c) { return !c.second.returned; });
  }

 private:
  struct Call {
    std::shared_ptr<CallState> state;
    std::optional<Clock::time_point> deadline;
    std::thread thread;
    bool returned = false;  // the handler is done (its thread can be joined)
    bool answered = false;  // the client has its response (a later reply is dropped)
  };

  void run();
  void onFrame(const Frame& frame);
  void dispatch(ServerProtocol::Action&& action);
  void runCall(uint32_t id, Request request, const Handler* handler,
               std::optional<Clock::time_point> deadline, std::shared_ptr<CallState> state);
  void queueLocked(uint32_t id, const Reply& reply);
  Status flush(Clock::time_point& lastProgress);
  void teardown();

  UniqueFd fd_;
  UniqueFd wake_;
  ServerProtocol protocol_;
  const ServerOptions& options_;
  std::thread thread_;
  std::atomic<bool> closing_{false};
  std::atomic<bool> finished_{false};

  std::mutex mu_;  // guards the members below
  std::map<uint32_t, Call> calls_;
  // Response frames waiting for the socket. Only the connection's thread pops and writes;
  // handler threads push (a deque keeps references to its other elements valid on push).
  std::deque<std::string> out_;
  size_t outBytes_ = 0;
  size_t outOffset_ = 0;  // bytes of out_.front() already written
};

void Server::Connection::run() {
  FrameDecoder decoder;
  std::vector<uint8_t> buf(64 * 1024);
  Clock::time_point lastProgress = Clock::now();
  std::string endReason;
  while (!closing_) {
    // Bookkeeping: join finished handlers, answer expired calls, find the next deadline.
    std::vector<std::thread> finished;
    std::vector<std::shared_ptr<CallState>> expired;
    std::optional<Clock::time_point> next;
    bool wantWrite;
    bool readable;
    Clock::time_point now = Clock::now();
    {
      std::lock_guard lock(mu_);
      for (auto it = calls_.begin(); it != calls_.end();) {
        Call& call = it->second;
        if (call.returned) {
          finished.push_back(std::move(call.thread));
          it = calls_.erase(it);
          continue;
        }
        if (!call.answered && call.deadline) {
          if (*call.deadline <= now) {
            call.answered = true;
            queueLocked(it->first,
                        Reply::failure(Code::DeadlineExceeded, "ttrpc: deadline exceeded"));
            expired.push_back(call.state);
          } else if (!next || *call.deadline < *next) {
            next = call.deadline;
          }
        }
        ++it;
      }
      wantWrite = outBytes_ > 0;
      readable = outBytes_ < kOutputHighWater;
    }
    for (auto& t : finished) t.join();
    for (auto& s : expired) cancelCall(*s, Code::DeadlineExceeded);
    if (!wantWrite) lastProgress = now;

    int timeout = -1;
    if (next) timeout = msUntil(*next, now);
    if (wantWrite) {
      auto stallEnd = lastProgress + std::chrono::milliseconds(options_.writeTimeoutMs);
      if (stallEnd <= now) {
        endReason = "client read nothing for " + std::to_string(options_.writeTimeoutMs) + " ms";
        break;
      }
      int t = msUntil(stallEnd, now);
      timeout = timeout < 0 ? t : std::min(timeout, t);
    }
    pollfd fds[2] = {
        {fd_.get(), static_cast<short>((readable ? POLLIN : 0) | (wantWrite ? POLLOUT : 0)), 0},
        {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, timeout) < 0) {
      if (errno == EINTR) continue;
      endReason = "poll: " + std::string(strerror(errno));
      break;
    }
    if (fds[1].revents != 0) drainWake(wake_.get());
    short ev = fds[0].revents;
    if (wantWrite && (ev & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      Status st = flush(lastProgress);
      if (!st.ok()) {
        endReason = st.error().str();
        break;
      }
    }
    if ((ev & (POLLIN | POLLERR | POLLHUP)) != 0) {
      ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
      if (n == 0) {
        if (!decoder.atBoundary()) {
          endReason = "client closed the connection in the middle of a frame";
        }
        break;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        endReason = "read: " + std::string(strerror(errno));
        break;
      }
      // The handler never fails: every frame gets an action.
      (void)decoder.feed({buf.data(), static_cast<size_t>(n)}, [&](const Frame& frame) {
        onFrame(frame);
        return okStatus();
      });
    }
  }
  if (!endReason.empty() && !closing_) log::warn("ttrpc: connection closed: " + endReason);
  teardown();
}

void Server::Connection::teardown() {
  closing_ = true;
  Clock::time_point ignored;
  (void)flush(ignored);  // what the socket takes without waiting: replies already made
  // Tells the client at once (only this thread uses the socket).
  ::shutdown(fd_.get(), SHUT_RDWR);
  std::vector<std::shared_ptr<CallState>> running;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, call] : calls_) {
      if (!call.returned) running.push_back(call.state);
      threads.push_back(std::move(call.thread));
    }
  }
  for (auto& s : running) cancelCall(*s, Code::Canceled);
  // Handlers must return once cancelled (Context::done); runCall then finds closing_ set.
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  {
    std::lock_guard lock(mu_);
    calls_.clear();
    out_.clear();
    outBytes_ = 0;
  }
  finished_ = true;
}

void Server::Connection::onFrame(const Frame& frame) {
  ServerProtocol::Action action = protocol_.onFrame(frame);
  switch (action.kind) {
    case ServerProtocol::Action::Kind::Ignore:
      log::debug("ttrpc: ignored " + describe(frame.header));
      return;
    case ServerProtocol::Action::Kind::Refuse: {
      log::debug("ttrpc: refused " + describe(frame.header) + ": " + action.refusal.str());
      std::lock_guard lock(mu_);
      queueLocked(action.streamId, Reply{action.refusal, {}});
      return;
    }
    case ServerProtocol::Action::Kind::Dispatch:
      dispatch(std::move(action));
      return;
  }
}

void Server::Connection::dispatch(ServerProtocol::Action&& action) {
  uint32_t id = action.streamId;
  std::optional<Clock::time_point> deadline;
  if (action.request.timeoutNanos > 0 && action.request.timeoutNanos < kMaxTimeoutNanos) {
    deadline = Clock::now() + std::chrono::nanoseconds(action.request.timeoutNanos);
  }
  std::lock_guard lock(mu_);
  size_t running =
      std::count_if(calls_.begin(), calls_.end(), [](const auto& c) { return !c.second.returned; });
  if (running >= options_.maxCallsPerConnection) {
    queueLocked(id, Reply::failure(Code::ResourceExhausted,
                                   "ttrpc: too many concurrent calls on this connection (limit " +
                                       std::to_string(options_.maxCallsPerConnection) + ")"));
    return;
  }
  Call& call = calls_[id];  // a new id: the protocol accepts only increasing ones
  call.state = std::make_shared<CallState>();
  call.deadline = deadline;
  try {
    // The thread needs mu_ to report its reply, so it cannot see `call` half set up.
    call.thread = std::thread(&Connection::runCall, this, id, std::move(action.request),
                              action.handler, deadline, call.state);
  } catch (const std::system_error& e) {
    calls_.erase(id);
    queueLocked(id, Reply::failure(Code::ResourceExhausted,
                                   std::string("ttrpc: cannot start the call: ") + e.what()));
  }
}

void Server::Connection::runCall(uint32_t id, Request request, const Handler* handler,
                                 std::optional<Clock::time_point> deadline,
                                 std::shared_ptr<CallState> state) {
  tInHandler = true;
  Context context(request, deadline, std::move(state));
  Reply reply;
  // Handlers report errors in their Reply; an exception escaping one must still not take the
  // server down with std::terminate.
  try {
    reply = (*handler)(context, request.payload);
  } catch (const std::exception& e) {
    reply = Reply::failure(Code::Internal, std::string("ttrpc: handler failed: ") + e.what());
  } catch (...) {
    reply = Reply::failure(Code::Internal, "ttrpc: handler failed");
  }
  std::string frame = encodeResponseFrame(id, reply);
  {
    std::lock_guard lock(mu_);
    Call& call = calls_.at(id);
    call.returned = true;
    if (!call.answered && !closing_) {
      call.answered = true;
      outBytes_ += frame.size();
      out_.push_back(std::move(frame));
    }
  }
  wake(wake_.get());
}

void Server::Connection::queueLocked(uint32_t id, const Reply& reply) {
  std::string frame = encodeResponseFrame(id, reply);
  outBytes_ += frame.size();
  out_.push_back(std::move(frame));
}

Status Server::Connection::flush(Clock::time_point& lastProgress) {
  for (;;) {
    const std::string* front;
    {
      std::lock_guard lock(mu_);
      if (out_.empty()) return okStatus();
      front = &out_.front();
    }
    ssize_t n =
        ::send(fd_.get(), front->data() + outOffset_, front->size() - outOffset_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return okStatus();
      return sysError("write");
    }
    lastProgress = Clock::now();
    outOffset_ += static_cast<size_t>(n);
    if (outOffset_ == front->size()) {
      std::lock_guard lock(mu_);
      outBytes_ -= front->size();
      out_.pop_front();
      outOffset_ = 0;
    }
  }
}

// ---- Server --------------------------------------------------------------------------------

Server::Server(ServerOptions options) : options_(options) {}

Server::~Server() { (void)stop(); }

Status Server::registerMethod(const std::string& service, const std::string& method,
                              Handler handler) {
  std::lock_guard lock(mu_);
  if (serving_) return makeError("ttrpc: methods must be registered before serving", EBUSY);
  return services_.add(service, method, std::move(handler));
}

Status Server::listen(const std::string& path) {
  KATA_ASSIGN_OR_RETURN(UniqueFd fd, listenUnix(path));
  Status st = startListener(std::move(fd), path);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

Status Server::serveListener(UniqueFd fd) {
  KATA_TRY(setNonBlocking(fd.get()));
  return startListener(std::move(fd), "");
}

Status Server::startListener(UniqueFd fd, const std::string& path) {
  auto listener = std::make_unique<Listener>();
  listener->fd = std::move(fd);
  listener->path = path;
  KATA_ASSIGN_OR_RETURN(listener->wake, makeWakeFd());
  std::lock_guard lock(mu_);
  if (stopping_) return makeError("ttrpc: server stopped", ESHUTDOWN);
  serving_ = true;
  Listener* l = listener.get();
  listeners_.push_back(std::move(listener));
  l->thread = std::thread([this, l] { acceptLoop(l); });
  return okStatus();
}

Status Server::serveConnection(UniqueFd fd) {
  KATA_TRY(setNonBlocking(fd.get()));
  return addConnection(std::move(fd));
}

void Server::acceptLoop(Listener* l) {
  for (;;) {
    pollfd fds[2] = {{l->fd.get(), POLLIN, 0}, {l->wake.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("ttrpc: poll on listening socket: " + std::string(strerror(errno)));
      return;
    }
    if (fds[1].revents != 0) return;  // stop()
    UniqueFd fd(::accept4(l->fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log::warn("ttrpc: accept: " + std::string(strerror(errno)));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // not a busy loop
        continue;
      }
      log::error("ttrpc: accept: " + std::string(strerror(errno)));
      return;
    }
    Status st = addConnection(std::move(fd));
    if (!st.ok()) log::warn(st.error().str());
  }
}

Status Server::addConnection(UniqueFd fd) {
  KATA_ASSIGN_OR_RETURN(UniqueFd wakeFd, makeWakeFd());
  std::lock_guard lock(mu_);
  reapFinishedLocked();
  if (stopping_) return makeError("ttrpc: server stopped", ESHUTDOWN);
  serving_ = true;
  if (connections_.size() >= options_.maxConnections) {
    return makeError("ttrpc: connection refused: already serving " +
                         std::to_string(options_.maxConnections) + " connections",
                     EMFILE);
  }
  auto conn = std::make_shared<Connection>(std::move(fd), std::move(wakeFd), services_, options_);
  conn->start();
  connections_.push_back(std::move(conn));
  return okStatus();
}

void Server::reapFinishedLocked() {
  std::erase_if(connections_, [](const std::shared_ptr<Connection>& c) {
    if (!c->finished()) return false;
    c->join();
    return true;
  });
}

void Server::closeListeners() {
  std::vector<std::unique_ptr<Listener>> listeners;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    serving_ = true;
    listeners.swap(listeners_);
  }
  for (auto& l : listeners) {
    wake(l->wake.get());
    if (l->thread.joinable()) l->thread.join();
    if (!l->path.empty()) ::unlink(l->path.c_str());
  }
}

Status Server::shutdown(std::chrono::milliseconds grace) {
  if (tInHandler) {
    return makeError("ttrpc: shutdown from a handler would wait for that handler", EDEADLK);
  }
  closeListeners();
  auto end = Clock::now() + grace;
  for (;;) {
    bool idle;
    {
      std::lock_guard lock(mu_);
      reapFinishedLocked();
      idle = std::all_of(connections_.begin(), connections_.end(),
                         [](const std::shared_ptr<Connection>& c) { return c->idle(); });
    }
    if (idle || Clock::now() >= end) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return stop();
}

Status Server::stop() {
  if (tInHandler) {
    return makeError("ttrpc: stop from a handler would wait for that handler", EDEADLK);
  }
  closeListeners();
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (auto& c : connections) c->close();
  for (auto& c : connections) c->join();
  return okStatus();
}

size_t Server::connectionCount() const {
  std::lock_guard lock(mu_);
  return std::count_if(connections_.begin(), connections_.end(),
                       [](const std::shared_ptr<Connection>& c) { return !c->finished(); });
}

}  // namespace kata::ttrpc
