// A raw ttrpc peer for the server and client tests: one end of a socketpair on which the test
// writes and reads frames byte for byte, playing a client or server that may misbehave.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "lib/ttrpc_frame.h"
#include "lib/ttrpc_message.h"
#include "lib/unique_fd.h"

namespace kata::ttrpc::testing {

inline std::pair<UniqueFd, UniqueFd> socketPair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return {};
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

struct ReceivedFrame {
  FrameHeader header;
  std::string data;
  bool oversized = false;
};

class RawPeer {
 public:
  explicit RawPeer(UniqueFd fd) : fd_(std::move(fd)) {}

  /// Writes all of `bytes` (blocking).
  bool send(const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool sendFrame(uint32_t id, MessageType type, uint8_t flags, const std::string& data) {
    auto f = encodeFrame(id, type, flags, data);
    return f.ok() && send(*f);
  }
  bool sendRequest(uint32_t id, const Request& request, uint8_t flags = 0) {
    return sendFrame(id, MessageType::Request, flags, encodeRequest(request));
  }

  /// The next whole frame, or nothing on EOF or after `timeoutMs`.
  std::optional<ReceivedFrame> next(int timeoutMs = 10000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (frames_.empty()) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      end - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return std::nullopt;
      pollfd pfd{fd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, left) <= 0) continue;
      char buf[65536];
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      (void)decoder_.feed(
          {reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)}, [&](const Frame& f) {
            frames_.push_back({f.header, std::string(f.data.begin(), f.data.end()), f.oversized});
            return okStatus();
          });
    }
    ReceivedFrame f = std::move(frames_.front());
    frames_.pop_front();
    return f;
  }
  /// The next frame as a response: its stream id and decoded reply.
  std::optional<std::pair<uint32_t, Reply>> nextResponse(int timeoutMs = 10000) {
    auto f = next(timeoutMs);
    if (!f || !f->header.is(MessageType::Response)) return std::nullopt;
    auto r = parseResponse({reinterpret_cast<const uint8_t*>(f->data.data()), f->data.size()});
    if (!r) return std::nullopt;
    return std::make_pair(f->header.streamId, std::move(r).value());
  }
  /// True once the other end closed the connection (waits up to `timeoutMs`).
  bool closedByPeer(int timeoutMs = 10000) {
    while (!eof_) {
      if (!next(timeoutMs) && !eof_) return false;
    }
    return true;
  }

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
  FrameDecoder decoder_;
  std::deque<ReceivedFrame> frames_;
  bool eof_ = false;
};

}  // namespace kata::ttrpc::testing
