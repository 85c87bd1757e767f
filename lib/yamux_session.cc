#include "lib/yamux_session.h"

#include <algorithm>
#include <limits>

namespace kata::yamux {

Session::Session(SessionConfig config)
    : config_(config),
      decoder_(std::max(config.receiveWindow, kInitialWindow)),
      nextId_(config.role == Role::Client ? 1 : 2),
      nextRemoteId_(config.role == Role::Client ? 2 : 1) {
  config_.receiveWindow = std::max(config_.receiveWindow, kInitialWindow);
}

// ---- input ---------------------------------------------------------------------------------

Status Session::receive(std::span<const uint8_t> bytes) {
  if (dead_) return makeError("yamux session is closed");
  Status st = decoder_.feed(bytes, [this](const Header& h, std::span<const uint8_t> payload) {
    return onFrame(h, payload);
  });
  if (!st.ok() && !dead_) return protocolError(std::move(st).error().message);
  return st;
}

std::vector<Event> Session::takeEvents() { return std::exchange(events_, {}); }

Status Session::protocolError(std::string reason) {
  if (!dead_) {
    sendHeader(FrameType::GoAway, 0, 0, static_cast<uint32_t>(GoAwayCode::ProtocolError));
    dead_ = true;
  }
  return makeError("yamux protocol error: " + reason);
}

Status Session::onFrame(const Header& h, std::span<const uint8_t> payload) {
  stats_.framesReceived++;
  switch (h.type) {
    case FrameType::Ping:
      if (h.has(kFlagSyn)) {
        stats_.pingsReceived++;
        sendHeader(FrameType::Ping, kFlagAck, 0, h.length);
      } else if (h.has(kFlagAck)) {
        events_.push_back({EventType::Pong, 0, h.length});
      } else {
        return protocolError(describe(h) + " is neither request nor reply");
      }
      return okStatus();
    case FrameType::GoAway:
      events_.push_back({EventType::GoAway, 0, h.length});
      if (h.length == static_cast<uint32_t>(GoAwayCode::Normal)) {
        // As hashicorp/yamux: no new streams, but the open ones finish (see the header).
        remoteGoAway_ = true;
        return okStatus();
      }
      dead_ = true;
      return makeError("peer sent go-away: " + std::string(goAwayReason(h.length)));
    case FrameType::Data:
    case FrameType::WindowUpdate:
      return onStreamFrame(h, payload);
  }
  return protocolError("unreachable frame type");
}

bool Session::isRemoteId(uint32_t id) const {
  bool even = id % 2 == 0;
  return config_.role == Role::Client ? even : !even;
}

bool Session::wasUsed(uint32_t id) const {
  if (!isRemoteId(id)) return id < nextId_;
  return id < nextRemoteId_ && skippedRemoteIds_.count(id) == 0;
}

Status Session::claimRemoteId(uint32_t id) {
  if (id < nextRemoteId_) {
    // Below the highest: fine only for an id a reordered SYN skipped.
    if (skippedRemoteIds_.erase(id) == 0) {
      return protocolError("peer reused stream id " + std::to_string(id));
    }
    return okStatus();
  }
  uint64_t skipped = (id - nextRemoteId_) / 2;
  if (skipped > kMaxSkippedRemoteIds - skippedRemoteIds_.size()) {
    return protocolError("peer stream id " + std::to_string(id) + " skips " +
                         std::to_string(skipped) + " ids");
  }
  for (uint64_t gap = nextRemoteId_; gap < id; gap += 2) {
    skippedRemoteIds_.insert(static_cast<uint32_t>(gap));
  }
  nextRemoteId_ = uint64_t{id} + 2;
  return okStatus();
}

Status Session::onStreamFrame(const Header& h, std::span<const uint8_t> payload) {
  uint32_t id = h.streamId;
  Stream* s = find(id);
  if (h.has(kFlagSyn)) {
    if (s) return protocolError("duplicate SYN for open stream " + std::to_string(id));
    if (!isRemoteId(id)) {
      return protocolError("peer opened stream " + std::to_string(id) + " with our id parity");
    }
    KATA_TRY(claimRemoteId(id));
    if (localGoAway_ || streams_.size() >= config_.maxStreams) {
      // Refuse without killing the session; the frame's data is dropped with the stream.
      sendHeader(FrameType::WindowUpdate, kFlagRst, id, 0);
      return okStatus();
    }
    Stream& fresh = streams_[id];
    fresh.acked = true;
    uint32_t extra = config_.receiveWindow - kInitialWindow;
    fresh.recvWindow += extra;
    sendHeader(FrameType::WindowUpdate, kFlagAck, id, extra);
    events_.push_back({EventType::Accepted, id, 0});
    s = &fresh;
  } else if (!s) {
    // A frame racing with our RST or close of a stream is normal; one for an id that never
    // existed is not.
    if (wasUsed(id)) return okStatus();
    return protocolError(describe(h) + " for unknown stream");
  }

  if (h.has(kFlagRst)) {
    streams_.erase(id);
    events_.push_back({EventType::Reset, id, 0});
    return okStatus();
  }
  if (h.has(kFlagAck) && !s->acked) {
    s->acked = true;
    events_.push_back({EventType::Established, id, 0});
  }
  if (h.type == FrameType::WindowUpdate) {
    uint64_t grown = uint64_t{s->sendWindow} + h.length;
    if (grown > std::numeric_limits<uint32_t>::max()) {
      return protocolError("window overflow on stream " + std::to_string(id));
    }
    s->sendWindow = static_cast<uint32_t>(grown);
    if (h.length > 0 && !s->localFin) events_.push_back({EventType::Writable, id, 0});
  } else if (!payload.empty()) {
    if (s->remoteFin) return protocolError("data after FIN on stream " + std::to_string(id));
    if (payload.size() > s->recvWindow) {
      return protocolError(std::to_string(payload.size()) + " bytes exceed the window of " +
                           std::to_string(s->recvWindow) + " on stream " + std::to_string(id));
    }
    s->recvWindow -= static_cast<uint32_t>(payload.size());
    s->rx.append(payload);
    stats_.bytesReceived += payload.size();
    if (events_.empty() || events_.back().type != EventType::Readable || events_.back().id != id) {
      events_.push_back({EventType::Readable, id, 0});
    }
  }
  if (h.has(kFlagFin) && !s->remoteFin) {
    s->remoteFin = true;
    events_.push_back({EventType::Readable, id, 0});
    maybeFinish(id, *s);
  }
  return okStatus();
}

// ---- output --------------------------------------------------------------------------------

std::span<const uint8_t> Session::output() const {
  return {reinterpret_cast<const uint8_t*>(out_.data()) + outOffset_, out_.size() - outOffset_};
}

void Session::advanceOutput(size_t n) {
  outOffset_ += std::min(n, outputSize());
  if (outOffset_ == out_.size()) {
    out_.clear();
    outOffset_ = 0;
  } else if (outOffset_ >= (1u << 20) && outOffset_ * 2 >= out_.size()) {
    out_.erase(0, outOffset_);  // amortized: only once the written prefix dominates
    outOffset_ = 0;
  }
}

void Session::sendHeader(FrameType type, uint16_t flags, uint32_t id, uint32_t length) {
  appendFrame(out_, Header{type, flags, id, length});
}

// ---- streams -------------------------------------------------------------------------------

Session::Stream* Session::find(uint32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}
const Session::Stream* Session::find(uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

Result<uint32_t> Session::open() {
  if (dead_) return makeError("yamux session is closed");
  if (localGoAway_) return makeError("yamux session is going away");
  if (remoteGoAway_) return makeError("yamux peer sent go-away: no new streams", ECONNREFUSED);
  if (streams_.size() >= config_.maxStreams) {
    return makeError("too many yamux streams (" + std::to_string(streams_.size()) + ")");
  }
  if (nextId_ > std::numeric_limits<uint32_t>::max() - 2) {
    return makeError("yamux stream ids exhausted");
  }
  uint32_t id = nextId_;
  nextId_ += 2;
  Stream& s = streams_[id];
  uint32_t extra = config_.receiveWindow - kInitialWindow;
  s.recvWindow += extra;
  sendHeader(FrameType::WindowUpdate, kFlagSyn, id, extra);
  return id;
}

uint32_t Session::sendWindow(uint32_t id) const {
  const Stream* s = find(id);
  if (!s || s->localFin || dead_) return 0;
  return s->sendWindow;
}

Result<size_t> Session::send(uint32_t id, std::span<const uint8_t> data) {
  if (dead_) return makeError("yamux session is closed", EPIPE);
  Stream* s = find(id);
  if (!s) return makeError("yamux stream " + std::to_string(id) + " is closed", EPIPE);
  if (s->localFin) return makeError("yamux stream " + std::to_string(id) + " was shut down", EPIPE);
  size_t n = std::min<size_t>(data.size(), s->sendWindow);
  if (n == 0) return size_t{0};
  appendFrame(out_, Header{FrameType::Data, 0, id, static_cast<uint32_t>(n)}, data.first(n));
  s->sendWindow -= static_cast<uint32_t>(n);
  stats_.bytesSent += n;
  return n;
}

Status Session::closeWrite(uint32_t id) {
  Stream* s = find(id);
  if (!s) return makeError("yamux stream " + std::to_string(id) + " is closed", EPIPE);
  if (s->localFin) return okStatus();
  s->localFin = true;
  s->localFinAtMs = clockMs_;
  s->localFinSeq = ++finSeq_;
  if (!dead_) sendHeader(FrameType::WindowUpdate, kFlagFin, id, 0);
  if (s->remoteFin) {
    maybeFinish(id, *s);
  } else {
    enforceHalfClosedLimit();
  }
  return okStatus();
}

void Session::reset(uint32_t id) {
  if (streams_.erase(id) == 0) return;
  if (!dead_) sendHeader(FrameType::WindowUpdate, kFlagRst, id, 0);
}

// ---- received bytes ------------------------------------------------------------------------

void Session::RxQueue::append(std::span<const uint8_t> data) {
  while (!data.empty()) {
    if (chunks_.empty() || chunks_.back().end == chunks_.back().capacity) {
      Chunk c;
      c.capacity = kRxChunk;
      c.data = std::make_unique_for_overwrite<uint8_t[]>(c.capacity);
      allocated_ += c.capacity;
      chunks_.push_back(std::move(c));
    }
    Chunk& tail = chunks_.back();
    size_t n = std::min(data.size(), tail.capacity - tail.end);
    std::copy_n(data.data(), n, tail.data.get() + tail.end);
    tail.end += n;
    size_ += n;
    data = data.subspan(n);
  }
}

std::span<const uint8_t> Session::RxQueue::front() const {
  if (chunks_.empty()) return {};
  const Chunk& c = chunks_.front();
  return {c.data.get() + c.begin, c.end - c.begin};
}

void Session::RxQueue::consume(size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  while (n > 0) {
    Chunk& c = chunks_.front();
    size_t take = std::min(n, c.end - c.begin);
    c.begin += take;
    n -= take;
    if (c.begin == c.end) {  // drained: an idle stream holds no memory
      allocated_ -= c.capacity;
      chunks_.pop_front();
    }
  }
}

size_t Session::buffered(uint32_t id) const {
  const Stream* s = find(id);
  return s ? s->rx.size() : 0;
}

size_t Session::rxMemory(uint32_t id) const {
  const Stream* s = find(id);
  return s ? s->rx.allocated() : 0;
}

std::span<const uint8_t> Session::peek(uint32_t id) const {
  const Stream* s = find(id);
  return s ? s->rx.front() : std::span<const uint8_t>{};
}

void Session::consume(uint32_t id, size_t n) {
  Stream* s = find(id);
  if (!s) return;
  n = std::min(n, s->rx.size());
  s->rx.consume(n);
  s->pendingGrant += static_cast<uint32_t>(n);
  // Granting in batches of half a window keeps window updates rare without ever letting the
  // peer's view of the window drop below half of it while the application keeps up.
  if (!s->remoteFin && !dead_ && s->pendingGrant >= config_.receiveWindow / 2) {
    sendHeader(FrameType::WindowUpdate, 0, id, s->pendingGrant);
    s->recvWindow += s->pendingGrant;
    s->pendingGrant = 0;
  }
  maybeFinish(id, *s);
}

bool Session::atEof(uint32_t id) const {
  const Stream* s = find(id);
  return !s || (s->remoteFin && s->rx.size() == 0);
}

bool Session::remoteClosed(uint32_t id) const {
  const Stream* s = find(id);
  return !s || s->remoteFin;
}

void Session::maybeFinish(uint32_t id, Stream& s) {
  if (s.localFin && s.remoteFin && s.rx.size() == 0) {
    streams_.erase(id);
    events_.push_back({EventType::Closed, id, 0});
  }
}

// ---- half-closed streams -------------------------------------------------------------------

void Session::reap(uint32_t id, uint32_t why) {
  reset(id);
  events_.push_back({EventType::Reaped, id, why});
}

size_t Session::halfClosedCount() const {
  size_t n = 0;
  for (const auto& [id, s] : streams_) n += s.localFin && !s.remoteFin;
  return n;
}

size_t Session::reapHalfClosed(uint64_t timeoutMs) {
  std::vector<uint32_t> expired;
  for (const auto& [id, s] : streams_) {
    if (s.localFin && !s.remoteFin && clockMs_ >= s.localFinAtMs + timeoutMs) {
      expired.push_back(id);
    }
  }
  for (uint32_t id : expired) reap(id, 0);
  return expired.size();
}

void Session::enforceHalfClosedLimit() {
  const size_t limit = std::max<size_t>(config_.maxHalfClosed, 1);
  while (halfClosedCount() > limit) {
    uint32_t oldest = 0;
    uint64_t oldestSeq = std::numeric_limits<uint64_t>::max();
    for (const auto& [id, s] : streams_) {
      if (s.localFin && !s.remoteFin && s.localFinSeq < oldestSeq) {
        oldest = id;
        oldestSeq = s.localFinSeq;
      }
    }
    reap(oldest, 1);
  }
}

std::vector<uint32_t> Session::streamIds() const {
  std::vector<uint32_t> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, s] : streams_) ids.push_back(id);
  return ids;
}

// ---- session -------------------------------------------------------------------------------

void Session::ping(uint32_t opaque) {
  if (!dead_) sendHeader(FrameType::Ping, kFlagSyn, 0, opaque);
}

void Session::goAway(GoAwayCode code) {
  if (dead_ || localGoAway_) return;
  localGoAway_ = true;
  sendHeader(FrameType::GoAway, 0, 0, static_cast<uint32_t>(code));
}

}  // namespace kata::yamux
