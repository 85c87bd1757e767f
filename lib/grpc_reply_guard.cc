#include "lib/grpc_reply_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kata::grpcguard {
namespace {

// HTTP/2 (RFC 9113) frame types and flags the scanner follows.
constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kContinuation = 0x9;
constexpr uint8_t kEndStream = 0x1, kPadded = 0x8;

constexpr size_t kRelayBuffer = 64 << 10;

}  // namespace

void ReplyScanner::fail(std::string why) {
  if (failure_.empty()) failure_ = std::move(why);
}

Status ReplyScanner::feed(std::string_view bytes) {
  while (!bytes.empty() && failure_.empty()) {
    if (headerHave_ < sizeof header_) {
      size_t take = std::min(sizeof header_ - headerHave_, bytes.size());
      std::memcpy(header_ + headerHave_, bytes.data(), take);
      headerHave_ += take;
      bytes.remove_prefix(take);
      if (headerHave_ < sizeof header_) break;
      startFrame();
      if (left_ == 0) endFrame();
      continue;
    }
    size_t take = std::min<size_t>(left_, bytes.size());
    framePayload(bytes.substr(0, take));
    bytes.remove_prefix(take);
    left_ -= uint32_t(take);
    if (left_ == 0) endFrame();
  }
  if (!failure_.empty()) return makeError(failure_, EPROTO);
  return okStatus();
}

void ReplyScanner::startFrame() {
  length_ = left_ = uint32_t(header_[0]) << 16 | uint32_t(header_[1]) << 8 | header_[2];
  type_ = header_[3];
  flags_ = header_[4];
  stream_ = (uint32_t(header_[5]) << 24 | uint32_t(header_[6]) << 16 | uint32_t(header_[7]) << 8 |
             header_[8]) &
            0x7fffffff;
  if (type_ == kData) {
    padLengthNext_ = (flags_ & kPadded) != 0;
    dataLeft_ = padLengthNext_ ? 0 : length_;
    if (padLengthNext_ && length_ == 0) fail("a padded DATA frame without its pad length");
  } else if (type_ == kHeaders) {
    headerBlock_ = length_;
  } else if (type_ == kContinuation) {
    headerBlock_ += length_;
  } else if (type_ == kRstStream) {
    messages_.erase(stream_);
  }
  if ((type_ == kHeaders || type_ == kContinuation) && headerBlock_ > limits_.maxHeaderBlockBytes)
    fail("a header block of more than " + std::to_string(limits_.maxHeaderBlockBytes) + " bytes");
}

void ReplyScanner::framePayload(std::string_view bytes) {
  if (type_ != kData) return;
  if (padLengthNext_) {
    padLengthNext_ = false;
    uint32_t pad = static_cast<uint8_t>(bytes[0]);
    bytes.remove_prefix(1);
    if (pad >= length_) return fail("a DATA frame padded beyond its length");
    dataLeft_ = length_ - 1 - pad;
  }
  size_t data = std::min<size_t>(dataLeft_, bytes.size());
  dataLeft_ -= uint32_t(data);
  messageBytes(bytes.substr(0, data));  // what follows is padding
}

void ReplyScanner::endFrame() {
  headerHave_ = 0;
  if ((type_ == kData || type_ == kHeaders) && (flags_ & kEndStream)) messages_.erase(stream_);
}

void ReplyScanner::messageBytes(std::string_view bytes) {
  if (bytes.empty()) return;
  auto it = messages_.find(stream_);
  if (it == messages_.end()) {
    if (messages_.size() >= limits_.maxOpenStreams)
      return fail("data on more than " + std::to_string(limits_.maxOpenStreams) + " streams");
    it = messages_.emplace(stream_, Message{}).first;
  }
  Message& m = it->second;
  while (!bytes.empty()) {
    if (m.bodyLeft > 0) {
      size_t skip = std::min<uint64_t>(m.bodyLeft, bytes.size());
      m.bodyLeft -= skip;
      bytes.remove_prefix(skip);
      continue;
    }
    m.prefix[m.prefixHave++] = static_cast<uint8_t>(bytes[0]);
    bytes.remove_prefix(1);
    if (m.prefixHave < sizeof m.prefix) continue;
    m.prefixHave = 0;
    // gRPC's message prefix: a compressed flag, then the length (big-endian).
    if (m.prefix[0] != 0) return fail("a compressed reply (none was asked for)");
    uint32_t size = uint32_t(m.prefix[1]) << 24 | uint32_t(m.prefix[2]) << 16 |
                    uint32_t(m.prefix[3]) << 8 | m.prefix[4];
    if (size > limits_.maxMessageBytes)
      return fail("a reply of " + std::to_string(size) + " bytes, above the limit of " +
                  std::to_string(limits_.maxMessageBytes));
    m.bodyLeft = size;
  }
}

Result<std::unique_ptr<GuardedConnection>> GuardedConnection::start(UniqueFd server,
                                                                    Limits limits) {
  std::unique_ptr<GuardedConnection> g(new GuardedConnection(limits));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return sysError("socketpair for the agent connection");
  g->inner_.reset(pair[0]);
  g->client_.reset(pair[1]);
  g->stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!g->stop_) return sysError("eventfd for the agent connection");
  for (int fd : {g->inner_.get(), server.get()}) {  // the relay's ends
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
      return sysError("make the agent connection non-blocking");
  }
  g->server_ = std::move(server);
  g->toServer_.reset(new char[kRelayBuffer]);
  g->toClient_.reset(new char[kRelayBuffer]);
  g->thread_ = std::thread([p = g.get()] { p->relay(); });
  return g;
}

GuardedConnection::~GuardedConnection() {
  uint64_t one = 1;
  if (stop_) (void)!::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

std::string GuardedConnection::violation() const {
  std::lock_guard lock(mu_);
  return violation_;
}

void GuardedConnection::cut(std::string why) {
  {
    std::lock_guard lock(mu_);
    if (violation_.empty()) violation_ = std::move(why);
  }
  // gRPC sees the connection end; the agent's side gets nothing more.
  ::shutdown(inner_.get(), SHUT_RDWR);
  ::shutdown(server_.get(), SHUT_RDWR);
}

void GuardedConnection::relay() {
  // One direction of the relay: bytes read from `from` wait in `buf` until `to` takes them.
  struct Direction {
    int from, to;
    bool scanned;  // the server's bytes
    char* buf;
    size_t head = 0, tail = 0;
    bool eof = false, closed = false;
  };
  Direction dirs[2] = {{inner_.get(), server_.get(), false, toServer_.get()},
                       {server_.get(), inner_.get(), true, toClient_.get()}};
  for (;;) {
    pollfd fds[5];
    int n = 0;
    int readIdx[2] = {-1, -1}, writeIdx[2] = {-1, -1};
    fds[n++] = {stop_.get(), POLLIN, 0};
    for (int d = 0; d < 2; d++) {
      Direction& dir = dirs[d];
      if (!dir.eof && dir.tail < kRelayBuffer) {
        readIdx[d] = n;
        fds[n++] = {dir.from, POLLIN, 0};
      }
      if (dir.head < dir.tail) {
        writeIdx[d] = n;
        fds[n++] = {dir.to, POLLOUT, 0};
      }
    }
    if (dirs[0].closed && dirs[1].closed) return;
    if (::poll(fds, nfds_t(n), -1) < 0) {
      if (errno == EINTR) continue;
      return cut(std::string("relay poll: ") + std::strerror(errno));
    }
    if (fds[0].revents != 0) return;
    for (int d = 0; d < 2; d++) {
      Direction& dir = dirs[d];
      if (readIdx[d] >= 0 && fds[readIdx[d]].revents != 0) {
        ssize_t got = ::read(dir.from, dir.buf + dir.tail, kRelayBuffer - dir.tail);
        if (got > 0) {
          if (dir.scanned) {
            if (auto st = scanner_.feed({dir.buf + dir.tail, size_t(got)}); !st.ok())
              return cut("the agent sent " + st.error().message);
          }
          dir.tail += size_t(got);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          dir.eof = true;
        }
      }
      if (writeIdx[d] >= 0 && fds[writeIdx[d]].revents != 0) {
        ssize_t put = ::send(dir.to, dir.buf + dir.head, dir.tail - dir.head, MSG_NOSIGNAL);
        if (put > 0) {
          dir.head += size_t(put);
        } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
          // The receiving side is gone: nothing more can be relayed either way.
          ::shutdown(inner_.get(), SHUT_RDWR);
          ::shutdown(server_.get(), SHUT_RDWR);
          return;
        }
      }
      if (dir.head == dir.tail) {
        dir.head = dir.tail = 0;
      } else if (dir.tail == kRelayBuffer && dir.head > 0) {
        std::memmove(dir.buf, dir.buf + dir.head, dir.tail - dir.head);
        dir.tail -= dir.head;
        dir.head = 0;
      }
      if (dir.eof && dir.head == dir.tail && !dir.closed) {
        ::shutdown(dir.to, SHUT_WR);  // pass the half-close on
        dir.closed = true;
      }
    }
  }
}

}  // namespace kata::grpcguard
