// yamux over a real fd on a libuv loop: the adapter around the I/O-free yamux::Session.
//
// Works on any byte-stream fd: a unix socket (the proxy connects to QEMU's chardev socket) or
// a virtio-serial char device inside the guest (watched with uv_poll_t, never uv_pipe_open).
// End of file, POLLHUP/POLLERR, a read/write error, a protocol violation from the peer, a
// peer go-away with an error code or a write stall longer than writeTimeoutMs end the session:
// every stream's handler gets onClosed(reason), the fd is closed, and then the CloseHandler
// runs with the reason. A peer go-away(normal) drains instead: open() fails, the open streams
// (and any the peer still opens meanwhile) go on as hashicorp/yamux peers expect, and the
// session ends once no stream is left. The session is single-threaded: use it only from its
// loop's thread.
//
// Half-closed streams are reaped (yamux_session.h): the handler of a stream whose peer never
// answered our FIN within halfCloseTimeoutMs gets onClosed(ETIMEDOUT).
//
// Memory is bounded: per stream by the receive window, and for the connection by
// outputHighWater: above it streams report writable() == 0 until the peer drains the
// connection, and far above it (control-frame floods) the Mux stops reading the fd.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"
#include "lib/yamux_session.h"

namespace kata::yamux {

class Mux;
class Stream;

/// What the owner of a stream implements (see yamux::bridge for the usual one).
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  /// New data (Stream::peek) or the peer's FIN (Stream::atEof) is available.
  virtual void onReadable(Stream& stream) {}
  /// The stream may accept more bytes (window granted or the connection drained).
  virtual void onWritable(Stream& stream) {}
  /// The stream is gone: closed both ways, reset by either side, or the session ended. Called
  /// exactly once; the Stream and the handler are destroyed later, never during the call.
  virtual void onClosed(Stream& stream, const Error& reason) {}
};

/// One yamux stream of a Mux. References stay valid until its handler's onClosed returns.
class Stream {
 public:
  uint32_t id() const { return id_; }
  Mux& mux() const { return *mux_; }
  bool closed() const { return closed_; }

  /// Oldest chunk of received bytes; consume() them once they are delivered (grants window).
  std::span<const uint8_t> peek() const;
  void consume(size_t n);
  size_t buffered() const;
  /// The peer sent FIN and every byte was consumed.
  bool atEof() const;

  /// Bytes write() takes now: the peer's window, or 0 while the connection is backlogged.
  size_t writable() const;
  /// Queues up to writable() bytes; returns how many were taken.
  Result<size_t> write(std::span<const uint8_t> data);
  /// Sends FIN (half-close).
  Status closeWrite();
  /// Sends RST; the handler's onClosed follows immediately.
  void reset();

  void setHandler(std::unique_ptr<StreamHandler> handler) { handler_ = std::move(handler); }
  StreamHandler* handler() const { return handler_.get(); }

 private:
  friend class Mux;
  Stream(Mux* mux, uint32_t id) : mux_(mux), id_(id) {}

  Mux* mux_;
  uint32_t id_;
  bool closed_ = false;
  std::unique_ptr<StreamHandler> handler_;
};

struct MuxOptions {
  SessionConfig session;
  /// Ping the peer this often (0 = never). A reply's round-trip time is kept in lastRttMs().
  uint64_t pingIntervalMs = 0;
  /// End the session when output is pending and the fd accepts nothing for this long (0 = off).
  uint64_t writeTimeoutMs = 0;
  /// Connection output above which reading stops and streams stop taking data.
  size_t outputHighWater = 1u << 20;
  /// A stream we closed is reset when the peer has not closed its side after this long
  /// (hashicorp/yamux's StreamCloseTimeout); see also SessionConfig::maxHalfClosed.
  uint64_t halfCloseTimeoutMs = 5 * 60 * 1000;
  /// Added to this session's log lines (e.g. {"sandbox", id}).
  std::string logName = "yamux";
};

class Mux {
 public:
  /// Called for each stream the peer opens; set a handler on it (or reset it). Without an
  /// AcceptHandler, peer-opened streams are reset.
  using AcceptHandler = std::function<void(Stream&)>;
  /// Called once, after the session ended and every stream was closed. It runs from a fresh
  /// loop callback, so it may destroy the Mux.
  using CloseHandler = std::function<void(const Error& reason)>;

  /// Starts the session on `fd` (any byte stream; made non-blocking).
  static Result<std::unique_ptr<Mux>> start(uv_loop_t* loop, UniqueFd fd, MuxOptions options,
                                            AcceptHandler onAccept, CloseHandler onClose);
  /// Closes everything without calling the CloseHandler. Do not destroy a Mux from inside a
  /// StreamHandler or AcceptHandler callback: call shutdown() there instead.
  ~Mux();
  Mux(const Mux&) = delete;
  Mux& operator=(const Mux&) = delete;

  /// Opens a stream (SYN). The returned stream is valid until its onClosed.
  Result<Stream*> open();
  /// Resets every open stream, sends go-away and closes the connection (each stream's
  /// onClosed runs); the CloseHandler follows with `reason`.
  void shutdown(const Error& reason = makeError("session closed locally"));

  bool closed() const { return closed_; }
  /// The session ended because the peer closed (or reset) the connection or sent
  /// go-away(normal), rather than on a protocol error or a local failure.
  bool closedCleanlyByPeer() const { return cleanPeerClose_; }
  uv_loop_t* loop() const { return loop_; }
  bool backlogged() const { return backlogged_; }
  const SessionStats& stats() const { return core_.stats(); }
  size_t streamCount() const { return streams_.size(); }
  std::optional<double> lastRttMs() const { return lastRttMs_; }
  const Session& session() const { return core_; }

 private:
  friend class Stream;
  Mux(uv_loop_t* loop, UniqueFd fd, MuxOptions options, AcceptHandler onAccept,
      CloseHandler onClose);
  Status init();

  void onPoll(int status, int events);
  void readInput();
  void flush();
  void afterChange();  // flush output, deliver events, refresh poll interest
  void dispatch();
  void updatePoll();
  void closeStream(uint32_t id, const Error& reason);
  void endIfDrained();  // after a peer go-away(normal): ends the session once no stream is left
  void terminate(Error reason);
  void onPingTimer();
  void onReapTimer();
  void armReapTimer();
  void onDeferred();
  void scheduleDeferred();

  uv_loop_t* loop_;
  UniqueFd fd_;
  bool fdIsSocket_ = false;
  MuxOptions options_;
  AcceptHandler onAccept_;
  CloseHandler onClose_;
  Session core_;

  std::map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Stream>> graveyard_;  // closed streams, freed from a fresh callback
  std::vector<uint8_t> readBuf_;

  uv::Poll poll_;
  uv::Timer pingTimer_;
  uv::Timer writeTimer_;
  uv::Timer deferTimer_;
  uv::Timer reapTimer_;

  bool dispatching_ = false;
  bool backlogged_ = false;   // output >= outputHighWater: streams take no data
  bool inputPaused_ = false;  // output >= 4 * outputHighWater: the fd is not read
  bool closed_ = false;
  bool closeNotified_ = false;
  bool cleanPeerClose_ = false;
  bool peerGoAway_ = false;
  Error closeReason_;
  uint32_t pingSeq_ = 0;
  bool pingOutstanding_ = false;
  uint64_t pingSentAt_ = 0;
  uint32_t missedPings_ = 0;
  std::optional<double> lastRttMs_;
};

}  // namespace kata::yamux
