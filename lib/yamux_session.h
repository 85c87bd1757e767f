// The yamux session state machine, free of I/O: fed with the bytes read from the connection,
// it queues the bytes to write and the events for the application. The libuv adapter
// (lib/yamux_mux.h) drives it over a real fd; tests and the fuzzer drive it directly.
//
// Flow control: a stream may send at most the peer's window; received Data counts against the
// window we granted and anything beyond it is a protocol error, so a stream's receive buffer
// never exceeds the window. Window is granted back only when the application consumes bytes
// (consume()), in batches of at least half the window, as hashicorp/yamux does.
//
// Memory follows the bytes, not the frames: received payloads are packed into chunks of
// kRxChunk bytes, so a stream holds at most its window plus two partly used chunks, whether the
// peer sends one-byte frames or whole windows. An idle stream holds none.
//
// Half-closed streams are reaped: a stream we closed (FIN sent) whose peer never closes its
// side would otherwise stay forever. At most maxHalfClosed such streams are kept (the oldest is
// reset beyond it), and reapHalfClosed() resets those older than a time limit (the Mux calls
// it; hashicorp/yamux has the same StreamCloseTimeout). A Reaped event reports each.
//
// Any protocol violation (bad header, window overflow, data beyond the window, frame for a
// stream that never existed, wrong stream id parity, ...) queues a go-away(protocol error),
// marks the session dead and is returned as the error of receive(); nothing is buffered
// without bound and nothing aborts.
//
// Two behaviours follow hashicorp/yamux rather than a strict reading of its spec, because
// upstream peers depend on them (tests/component/yamux_interop checks both against the Go
// library):
//  * A peer's go-away(normal) only means "open no new streams": open() fails from then on,
//    but the streams already open carry on (the Mux ends the session once they are all
//    closed). Only a go-away with an error code kills the session at once.
//  * A peer's SYNs may arrive out of id order: hashicorp/yamux allocates the id and queues the
//    SYN in two steps, so concurrent OpenStream() calls race. Skipped ids are remembered (at
//    most kMaxSkippedRemoteIds) and may still be opened later; an id opened before is a
//    protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/yamux_frame.h"

namespace kata::yamux {

/// The client opens odd stream ids, the server even ones (the kata-proxy is the client, the
/// agent the server).
enum class Role { Client, Server };

struct SessionConfig {
  Role role = Role::Client;
  /// Receive window granted to the peer per stream (>= kInitialWindow). Bounds the memory one
  /// stream may hold.
  uint32_t receiveWindow = kInitialWindow;
  /// Streams open at once; a peer SYN beyond it is answered with RST.
  size_t maxStreams = 1024;
  /// Streams we closed whose peer has not (yet): beyond it the oldest is reset (>= 1).
  size_t maxHalfClosed = 64;
};

/// Received payloads are packed into chunks of this size (see the file comment).
inline constexpr size_t kRxChunk = 64 * 1024;

/// Peer stream ids skipped by a reordered SYN that may still be opened. hashicorp/yamux keeps
/// at most AcceptBacklog (256 by default) SYNs in flight, which bounds how far they reorder.
inline constexpr size_t kMaxSkippedRemoteIds = 1024;

enum class EventType {
  Accepted,     // the peer opened stream `id` (already acknowledged)
  Established,  // the peer acknowledged our stream `id`
  Readable,     // stream `id` got data or the peer's FIN
  Writable,     // the peer granted stream `id` more window
  Reset,        // the peer reset stream `id`; it is gone
  Closed,       // stream `id` is closed in both directions and drained; it is gone
  Reaped,       // we reset stream `id`, half-closed by us and never closed by the peer: too
                // long (`value` 0, reapHalfClosed) or too many such streams (`value` 1)
  Pong,         // reply to our ping `value`
  GoAway,       // the peer sent go-away `value`: no new streams (and the session is over
                // unless `value` is Normal)
};

struct Event {
  EventType type;
  uint32_t id = 0;
  uint32_t value = 0;
};

struct SessionStats {
  uint64_t pingsReceived = 0;
  uint64_t framesReceived = 0;
  uint64_t bytesReceived = 0;  // Data payload
  uint64_t bytesSent = 0;      // Data payload
};

class Session {
 public:
  explicit Session(SessionConfig config);

  // ---- input -----------------------------------------------------------------------------
  /// Processes bytes read from the connection. On a protocol violation or a peer go-away
  /// with an error code the session is dead: the error explains why (a go-away to send may be
  /// in output()). A peer go-away(normal) is only a GoAway event (see the file comment).
  Status receive(std::span<const uint8_t> bytes);
  /// Events produced since the last call, oldest first.
  std::vector<Event> takeEvents();
  bool hasEvents() const { return !events_.empty(); }

  // ---- output ----------------------------------------------------------------------------
  /// Bytes waiting to be written to the connection.
  std::span<const uint8_t> output() const;
  size_t outputSize() const { return out_.size() - outOffset_; }
  /// Drops the first `n` bytes of output() after they were written.
  void advanceOutput(size_t n);

  // ---- streams ---------------------------------------------------------------------------
  /// Opens a stream (sends SYN). Fails after a go-away (ours or the peer's), when the ids are
  /// exhausted or maxStreams streams are open.
  Result<uint32_t> open();
  bool exists(uint32_t id) const { return streams_.count(id) != 0; }
  /// How many bytes send() would accept now (0 after closeWrite or on an unknown stream).
  uint32_t sendWindow(uint32_t id) const;
  /// Queues up to sendWindow(id) bytes of `data` as Data frames; returns how many it took.
  Result<size_t> send(uint32_t id, std::span<const uint8_t> data);
  /// Half-close: sends FIN; the peer may still send.
  Status closeWrite(uint32_t id);
  /// Aborts the stream (sends RST) and forgets it; no event follows.
  void reset(uint32_t id);

  /// Received bytes not consumed yet.
  size_t buffered(uint32_t id) const;
  /// The oldest contiguous chunk of buffered data (empty when none).
  std::span<const uint8_t> peek(uint32_t id) const;
  /// Drops `n` buffered bytes and grants the window back to the peer. May close the stream
  /// (Closed event) when both sides are done.
  void consume(uint32_t id, size_t n);
  /// True once the peer sent FIN and every buffered byte was consumed: end of stream.
  bool atEof(uint32_t id) const;
  bool remoteClosed(uint32_t id) const;
  /// Heap bytes holding stream `id`'s received data (its chunks' capacity).
  size_t rxMemory(uint32_t id) const;

  // ---- half-closed streams (see the file comment) -----------------------------------------
  /// The owner's clock, in milliseconds: stamps streams as they become half-closed.
  void setClock(uint64_t nowMs) { clockMs_ = nowMs; }
  /// Resets every stream half-closed by us for at least `timeoutMs` (Reaped events follow).
  /// Returns how many.
  size_t reapHalfClosed(uint64_t timeoutMs);
  /// Streams closed by us and not by the peer.
  size_t halfClosedCount() const;

  size_t streamCount() const { return streams_.size(); }
  std::vector<uint32_t> streamIds() const;

  // ---- session ---------------------------------------------------------------------------
  /// Sends a ping request; a Pong event with `opaque` follows when the peer answers.
  void ping(uint32_t opaque);
  /// Sends go-away: no new streams either way. Existing streams may continue.
  void goAway(GoAwayCode code);
  bool dead() const { return dead_; }
  /// The peer sent go-away(normal): we may open no more streams.
  bool peerWentAway() const { return remoteGoAway_; }
  const SessionStats& stats() const { return stats_; }
  const SessionConfig& config() const { return config_; }

 private:
  // A stream's received bytes, in chunks (see the file comment).
  class RxQueue {
   public:
    void append(std::span<const uint8_t> data);
    std::span<const uint8_t> front() const;
    void consume(size_t n);
    size_t size() const { return size_; }
    size_t allocated() const { return allocated_; }

   private:
    struct Chunk {
      std::unique_ptr<uint8_t[]> data;
      size_t capacity = 0;
      size_t begin = 0;  // consumed
      size_t end = 0;    // filled
    };
    std::deque<Chunk> chunks_;
    size_t size_ = 0;
    size_t allocated_ = 0;
  };

  struct Stream {
    bool localFin = false;
    bool remoteFin = false;
    bool acked = false;  // we saw the peer's ACK (or we accepted the stream)
    uint32_t sendWindow = kInitialWindow;
    uint32_t recvWindow = kInitialWindow;  // bytes the peer may still send
    uint32_t pendingGrant = 0;             // consumed bytes not yet granted back
    RxQueue rx;
    uint64_t localFinAtMs = 0;  // clock when we sent FIN
    uint64_t localFinSeq = 0;   // order in which our FINs were sent
  };

  Status onFrame(const Header& h, std::span<const uint8_t> payload);
  Status onStreamFrame(const Header& h, std::span<const uint8_t> payload);
  Status protocolError(std::string reason);
  bool isRemoteId(uint32_t id) const;
  bool wasUsed(uint32_t id) const;
  Status claimRemoteId(uint32_t id);
  void sendHeader(FrameType type, uint16_t flags, uint32_t id, uint32_t length);
  void maybeFinish(uint32_t id, Stream& s);
  void reap(uint32_t id, uint32_t why);
  void enforceHalfClosedLimit();
  Stream* find(uint32_t id);
  const Stream* find(uint32_t id) const;

  SessionConfig config_;
  FrameDecoder decoder_;
  std::map<uint32_t, Stream> streams_;
  std::vector<Event> events_;
  std::string out_;
  size_t outOffset_ = 0;
  uint32_t nextId_;        // next id we open
  uint64_t nextRemoteId_;  // lowest peer id above every peer id opened so far (may be 2^32+1)
  std::set<uint32_t> skippedRemoteIds_;  // peer ids below nextRemoteId_ not opened yet
  bool localGoAway_ = false;
  bool remoteGoAway_ = false;
  bool dead_ = false;
  SessionStats stats_;
  uint64_t clockMs_ = 0;
  uint64_t finSeq_ = 0;
};

}  // namespace kata::yamux
