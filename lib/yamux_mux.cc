#include "lib/yamux_mux.h"

#include <sys/socket.h>

#include <algorithm>

#include "lib/log.h"
#include "lib/uv_fd.h"

namespace kata::yamux {
namespace {
constexpr size_t kReadChunk = 256 * 1024;
}  // namespace

// ---- Stream --------------------------------------------------------------------------------

std::span<const uint8_t> Stream::peek() const {
  return closed_ ? std::span<const uint8_t>{} : mux_->core_.peek(id_);
}

void Stream::consume(size_t n) {
  if (closed_) return;
  mux_->core_.consume(id_, n);
  mux_->afterChange();
}

size_t Stream::buffered() const { return closed_ ? 0 : mux_->core_.buffered(id_); }

bool Stream::atEof() const { return closed_ || mux_->core_.atEof(id_); }

size_t Stream::writable() const {
  if (closed_ || mux_->backlogged_) return 0;
  // One write never takes more than the high-water mark, which bounds the output buffer.
  return std::min<size_t>(mux_->core_.sendWindow(id_), mux_->options_.outputHighWater);
}

Result<size_t> Stream::write(std::span<const uint8_t> data) {
  if (closed_) return makeError("yamux stream " + std::to_string(id_) + " is closed", EPIPE);
  size_t room = writable();
  if (room == 0) return size_t{0};
  auto n = mux_->core_.send(id_, data.first(std::min(room, data.size())));
  mux_->afterChange();
  return n;
}

Status Stream::closeWrite() {
  if (closed_) return makeError("yamux stream " + std::to_string(id_) + " is closed", EPIPE);
  mux_->core_.setClock(uv_now(mux_->loop_));
  Status st = mux_->core_.closeWrite(id_);
  mux_->armReapTimer();
  mux_->afterChange();
  return st;
}

void Stream::reset() {
  if (closed_) return;
  mux_->core_.reset(id_);
  mux_->closeStream(id_, makeError("stream reset locally", ECONNRESET));
  mux_->afterChange();
}

// ---- Mux -----------------------------------------------------------------------------------

Mux::Mux(uv_loop_t* loop, UniqueFd fd, MuxOptions options, AcceptHandler onAccept,
         CloseHandler onClose)
    : loop_(loop),
      fd_(std::move(fd)),
      options_(std::move(options)),
      onAccept_(std::move(onAccept)),
      onClose_(std::move(onClose)),
      core_(options_.session),
      readBuf_(kReadChunk) {}

Result<std::unique_ptr<Mux>> Mux::start(uv_loop_t* loop, UniqueFd fd, MuxOptions options,
                                        AcceptHandler onAccept, CloseHandler onClose) {
  if (!fd.valid()) return makeError("yamux: invalid connection fd", EBADF);
  std::unique_ptr<Mux> mux(
      new Mux(loop, std::move(fd), std::move(options), std::move(onAccept), std::move(onClose)));
  KATA_TRY_CTX(mux->init(), "start yamux session");
  return mux;
}

Status Mux::init() {
  fdIsSocket_ = uv::isSocket(fd_.get());
  KATA_TRY(
      poll_.init(loop_, fd_.get(), [this](int status, int events) { onPoll(status, events); }));
  KATA_TRY(deferTimer_.init(loop_, [this] { onDeferred(); }));
  KATA_TRY(writeTimer_.init(loop_, [this] {
    terminate(makeError("yamux write timeout: the peer read nothing for " +
                            std::to_string(options_.writeTimeoutMs) + " ms",
                        ETIMEDOUT));
  }));
  KATA_TRY(pingTimer_.init(loop_, [this] { onPingTimer(); }));
  KATA_TRY(reapTimer_.init(loop_, [this] { onReapTimer(); }));
  reapTimer_.unref();  // housekeeping: never the reason a loop keeps running
  if (options_.pingIntervalMs > 0) {
    pingTimer_.start(options_.pingIntervalMs, options_.pingIntervalMs);
  }
  updatePoll();
  return okStatus();
}

Mux::~Mux() {
  if (!closed_) {
    closed_ = true;
    for (auto& [id, s] : std::map<uint32_t, std::unique_ptr<Stream>>(std::move(streams_))) {
      s->closed_ = true;
      if (s->handler_) s->handler_->onClosed(*s, makeError("yamux session destroyed"));
    }
  }
  // Handlers may own uv handles and fds; they go with the streams now, before the fd.
  graveyard_.clear();
  streams_.clear();
}

Result<Stream*> Mux::open() {
  if (closed_) return makeError("yamux session is closed", EPIPE);
  KATA_ASSIGN_OR_RETURN(uint32_t id, core_.open());
  auto stream = std::unique_ptr<Stream>(new Stream(this, id));
  Stream* raw = stream.get();
  streams_[id] = std::move(stream);
  afterChange();
  return raw;
}

void Mux::shutdown(const Error& reason) {
  if (closed_) return;
  // RST first: a peer draining after our go-away (hashicorp/yamux semantics, ours too) must
  // not wait for streams we abandon, even on a transport that shows no hangup (a pty).
  for (uint32_t id : core_.streamIds()) core_.reset(id);
  core_.goAway(GoAwayCode::Normal);
  terminate(reason);
}

void Mux::onPoll(int status, int events) {
  if (closed_) return;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF; the socket knows the real error.
    int err = 0;
    socklen_t len = sizeof err;
    if (!fdIsSocket_ || getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) {
      err = EIO;
    }
    cleanPeerClose_ = err == ECONNRESET || err == EPIPE;
    terminate(sysError("yamux connection error", err));
    return;
  }
  if (events & UV_WRITABLE) flush();
  if (!closed_ && (events & (UV_READABLE | UV_DISCONNECT))) readInput();
  if (!closed_) afterChange();
}

void Mux::readInput() {
  if (inputPaused_) return;
  ssize_t n = uv::readSome(fd_.get(), readBuf_);
  if (n == -EAGAIN) return;
  if (n == 0) {
    cleanPeerClose_ = true;
    terminate(makeError("yamux connection closed by the peer"));
    return;
  }
  if (n < 0) {
    // A peer that dies with our data unread shows up as a reset rather than end of file.
    cleanPeerClose_ = n == -ECONNRESET;
    terminate(sysError("yamux connection read failed", static_cast<int>(-n)));
    return;
  }
  Status st = core_.receive({readBuf_.data(), static_cast<size_t>(n)});
  dispatch();  // deliver what the good frames before an error produced
  if (!st.ok()) {
    if (!peerGoAway_) {
      log::warn("yamux session ended",
                {{"reason", st.error().str()}, {"session", options_.logName}});
    }
    terminate(std::move(st).error());
  }
}

void Mux::flush() {
  bool progressed = false;
  while (!closed_ && core_.outputSize() > 0) {
    ssize_t n = uv::writeSome(fd_.get(), fdIsSocket_, core_.output());
    if (n == 0) break;
    if (n < 0) {
      cleanPeerClose_ = n == -EPIPE || n == -ECONNRESET;
      terminate(sysError("yamux connection write failed", static_cast<int>(-n)));
      return;
    }
    core_.advanceOutput(static_cast<size_t>(n));
    progressed = true;
  }
  if (options_.writeTimeoutMs > 0) {
    if (core_.outputSize() == 0) {
      writeTimer_.stop();
    } else if (progressed || !writeTimer_.active()) {
      writeTimer_.start(options_.writeTimeoutMs);
    }
  }
  bool wasBacklogged = backlogged_;
  size_t out = core_.outputSize();
  if (out >= options_.outputHighWater) {
    backlogged_ = true;
  } else if (out <= options_.outputHighWater / 4) {
    backlogged_ = false;
  }
  // Reading stops only far above the data limit: streams stop at outputHighWater, so only a
  // peer that floods control frames (pings) without reading our replies gets here. Stopping
  // earlier would deadlock two peers that both have data queued for each other.
  if (out >= 4 * options_.outputHighWater) {
    inputPaused_ = true;
  } else if (out <= options_.outputHighWater) {
    inputPaused_ = false;
  }
  if (wasBacklogged && !backlogged_) {
    // Streams stopped feeding us while we were backlogged: wake them all.
    for (auto id : core_.streamIds()) {
      auto it = streams_.find(id);
      if (it != streams_.end() && it->second->handler_)
        it->second->handler_->onWritable(*it->second);
      if (closed_) return;
    }
  }
}

void Mux::afterChange() {
  if (closed_) return;
  flush();
  if (closed_) return;
  dispatch();
  if (closed_) return;
  if (core_.outputSize() > 0) flush();
  updatePoll();
}

void Mux::updatePoll() {
  if (closed_) return;
  int events = 0;
  if (!inputPaused_) events |= UV_READABLE;
  if (core_.outputSize() > 0) events |= UV_WRITABLE;
  poll_.want(events);
}

void Mux::dispatch() {
  if (dispatching_) return;  // the outer loop picks up events queued by nested calls
  dispatching_ = true;
  while (!closed_ && core_.hasEvents()) {
    for (const Event& ev : core_.takeEvents()) {
      if (closed_) break;
      auto it = streams_.find(ev.id);
      Stream* s = it == streams_.end() ? nullptr : it->second.get();
      switch (ev.type) {
        case EventType::Accepted: {
          auto stream = std::unique_ptr<Stream>(new Stream(this, ev.id));
          Stream* raw = stream.get();
          streams_[ev.id] = std::move(stream);
          if (onAccept_) {
            AcceptHandler accept = onAccept_;
            accept(*raw);
          } else {
            raw->reset();
          }
          break;
        }
        case EventType::Established:
          break;
        case EventType::Readable:
          if (s && s->handler_) s->handler_->onReadable(*s);
          break;
        case EventType::Writable:
          if (s && s->handler_) s->handler_->onWritable(*s);
          break;
        case EventType::Reset:
          closeStream(ev.id, makeError("stream reset by the peer", ECONNRESET));
          break;
        case EventType::Closed:
          closeStream(ev.id, makeError("stream closed"));
          break;
        case EventType::Reaped:
          log::debug("yamux stream reaped: the peer never closed it",
                     {{"stream", std::to_string(ev.id)},
                      {"reason", ev.value == 0 ? "timeout" : "too many half-closed streams"},
                      {"session", options_.logName}});
          closeStream(ev.id, makeError("stream reset: the peer did not close it", ETIMEDOUT));
          break;
        case EventType::Pong:
          if (pingOutstanding_ && ev.value == pingSeq_) {
            pingOutstanding_ = false;
            lastRttMs_ = static_cast<double>(uv_hrtime() - pingSentAt_) / 1e6;
          }
          break;
        case EventType::GoAway:
          peerGoAway_ = true;
          cleanPeerClose_ = ev.value == static_cast<uint32_t>(GoAwayCode::Normal);
          // An error code made receive() fail and terminate() follows. A normal one lets the
          // open streams finish (hashicorp/yamux peers expect that) before the session ends.
          if (cleanPeerClose_) {
            log::debug("yamux peer sent go-away", {{"streams", std::to_string(streams_.size())},
                                                   {"session", options_.logName}});
            endIfDrained();
          }
          break;
      }
    }
  }
  dispatching_ = false;
}

void Mux::closeStream(uint32_t id, const Error& reason) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> stream = std::move(it->second);
  streams_.erase(it);
  stream->closed_ = true;
  Stream* raw = stream.get();
  graveyard_.push_back(std::move(stream));
  scheduleDeferred();
  if (raw->handler_) raw->handler_->onClosed(*raw, reason);
  endIfDrained();
}

void Mux::endIfDrained() {
  if (closed_ || !core_.peerWentAway() || !streams_.empty()) return;
  terminate(makeError("yamux peer sent go-away: normal termination"));
}

void Mux::terminate(Error reason) {
  if (closed_) return;
  if (core_.peerWentAway() && !streams_.empty()) {
    reason.message = "while draining after the peer's go-away: normal: " + reason.message;
  }
  // Best effort: one non-blocking attempt to deliver what is queued (e.g. our go-away).
  if (core_.outputSize() > 0) {
    ssize_t n = uv::writeSome(fd_.get(), fdIsSocket_, core_.output());
    if (n > 0) core_.advanceOutput(static_cast<size_t>(n));
  }
  closed_ = true;
  closeReason_ = reason;
  log::debug("yamux session closed", {{"reason", reason.str()}, {"session", options_.logName}});
  poll_.reset();
  pingTimer_.reset();
  writeTimer_.reset();
  reapTimer_.reset();
  auto open = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : open) {
    s->closed_ = true;
    Stream* raw = s.get();
    graveyard_.push_back(std::move(s));
    if (raw->handler_) raw->handler_->onClosed(*raw, reason);
  }
  fd_.reset();
  scheduleDeferred();
}

void Mux::onPingTimer() {
  if (closed_) return;
  if (pingOutstanding_) {
    // One ping in flight at a time, as hashicorp/yamux's Ping(): a slow guest is not flooded.
    missedPings_++;
    log::debug("yamux ping unanswered",
               {{"intervals", std::to_string(missedPings_)}, {"session", options_.logName}});
    return;
  }
  missedPings_ = 0;
  pingSeq_++;
  pingOutstanding_ = true;
  pingSentAt_ = uv_hrtime();
  core_.ping(pingSeq_);
  afterChange();
}

void Mux::armReapTimer() {
  // One check per quarter of the timeout: a stream goes at most 25% late.
  if (closed_ || reapTimer_.active() || core_.halfClosedCount() == 0) return;
  uint64_t step = std::max<uint64_t>(options_.halfCloseTimeoutMs / 4, 1);
  reapTimer_.start(step, step);
}

void Mux::onReapTimer() {
  if (closed_) return;
  core_.setClock(uv_now(loop_));
  core_.reapHalfClosed(options_.halfCloseTimeoutMs);
  if (core_.halfClosedCount() == 0) reapTimer_.stop();
  afterChange();
}

void Mux::scheduleDeferred() {
  if (deferTimer_.valid() && !deferTimer_.active()) deferTimer_.start(0);
}

void Mux::onDeferred() {
  graveyard_.clear();
  if (closed_ && !closeNotified_) {
    closeNotified_ = true;
    deferTimer_.reset();
    CloseHandler cb = std::move(onClose_);
    Error reason = closeReason_;
    if (cb) cb(reason);  // may destroy *this: nothing below touches it
  }
}

}  // namespace kata::yamux
