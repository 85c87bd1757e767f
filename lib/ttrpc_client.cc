#include "lib/ttrpc_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lib/unix_socket.h"

namespace kata::ttrpc {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Client>> Client::connect(const std::string& path, int retryMs) {
  KATA_ASSIGN_OR_RETURN(UniqueFd fd, connectUnix(path, retryMs));
  return fromFd(std::move(fd));
}

Result<std::unique_ptr<Client>> Client::fromFd(UniqueFd fd) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return sysError("ttrpc client: set O_NONBLOCK");
  }
  std::unique_ptr<Client> client(new Client(std::move(fd)));
  client->reader_ = std::thread([c = client.get()] { c->readLoop(); });
  return client;
}

Client::Client(UniqueFd fd) : fd_(std::move(fd)) {}

Client::~Client() { close(); }

void Client::close() {
  {
    std::lock_guard lock(mu_);
    if (!broken_) broken_ = makeError("ttrpc: client closed", ECONNABORTED);
  }
  // Wakes the reader (its read returns 0) and any writer blocked in poll.
  ::shutdown(fd_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

void Client::fail(const Error& why) {
  {
    std::lock_guard lock(mu_);
    if (!broken_) broken_ = why;
    for (auto& [id, outcome] : pending_) {
      if (!outcome) outcome = *broken_;
    }
  }
  cv_.notify_all();
  ::shutdown(fd_.get(), SHUT_RDWR);
}

void Client::readLoop() {
  FrameDecoder decoder;
  std::vector<uint8_t> buf(64 * 1024);
  auto deliver = [&](const Frame& frame) -> Status {
    if (!frame.header.is(MessageType::Response)) return okStatus();  // not for a client
    std::optional<Result<Reply>> outcome;
    if (frame.oversized) {
      outcome = makeError("ttrpc: response of " + std::to_string(frame.header.length) +
                              " bytes exceeds maximum message size of " +
                              std::to_string(kMaxMessageBytes),
                          EMSGSIZE);
    } else {
      outcome = parseResponse(frame.data);
    }
    std::lock_guard lock(mu_);
    auto it = pending_.find(frame.header.streamId);
    if (it == pending_.end() || it->second) return okStatus();  // the caller gave up
    it->second = std::move(outcome);
    cv_.notify_all();
    return okStatus();
  };
  for (;;) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      fail(sysError("ttrpc client: poll"));
      return;
    }
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n == 0) {
      fail(makeError(decoder.atBoundary()
                         ? "ttrpc: connection closed by the server"
                         : "ttrpc: connection closed by the server in the middle of a frame",
                     ECONNRESET));
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail(sysError("ttrpc client: read"));
      return;
    }
    (void)decoder.feed({buf.data(), static_cast<size_t>(n)}, deliver);  // deliver never fails
  }
}

Status Client::writeFrameLocked(const std::string& frame, std::optional<Clock::time_point> deadline,
                                bool& partial) {
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd_.get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      partial = off < frame.size();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return sysError("ttrpc client: write");
    int timeout = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return makeError("ttrpc: deadline exceeded while sending", ETIMEDOUT);
      timeout = static_cast<int>(std::min<int64_t>(left, 60 * 60 * 1000));
    }
    pollfd pfd{fd_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, timeout) < 0 && errno != EINTR) return sysError("ttrpc client: poll");
  }
  return okStatus();
}

Result<Reply> Client::call(std::string_view service, std::string_view method,
                           std::string_view payload, std::chrono::milliseconds timeout,
                           const Metadata& metadata) {
  std::optional<Clock::time_point> deadline;
  Request request{std::string(service), std::string(method), std::string(payload), 0, metadata};
  if (timeout.count() > 0) {
    deadline = Clock::now() + timeout;
    request.timeoutNanos = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  }
  // Upstream's server requires each stream id to be above the last: the id is taken and its
  // frame written under one lock, so that concurrent calls reach the socket in id order.
  std::unique_lock writeLock(writeMu_);
  uint32_t id;
  {
    std::lock_guard lock(mu_);
    if (broken_) return *broken_;
    if (nextStreamId_ > UINT32_MAX - 2) {
      return makeError("ttrpc: stream ids of this connection are used up; reconnect", EOVERFLOW);
    }
    id = nextStreamId_;
    nextStreamId_ += 2;
    pending_[id];
  }
  auto forget = [&] {
    std::lock_guard lock(mu_);
    pending_.erase(id);
  };
  auto frame = encodeFrame(id, MessageType::Request, 0, encodeRequest(request));
  if (!frame) {
    forget();
    return std::move(frame).error();
  }
  bool partial = false;
  Status sent = writeFrameLocked(*frame, deadline, partial);
  writeLock.unlock();
  if (!sent.ok()) {
    forget();
    if (partial) fail(makeError("ttrpc: connection broken by a partly sent request", EPIPE));
    if (sent.error().code == ETIMEDOUT) {
      return Reply::failure(Code::DeadlineExceeded, "ttrpc: deadline exceeded");
    }
    return std::move(sent).error();
  }
  std::unique_lock lock(mu_);
  auto ready = [&] { return pending_.at(id).has_value(); };
  if (deadline) {
    if (!cv_.wait_until(lock, *deadline, ready)) {
      pending_.erase(id);
      return Reply::failure(Code::DeadlineExceeded, "ttrpc: deadline exceeded");
    }
  } else {
    cv_.wait(lock, ready);
  }
  Result<Reply> outcome = std::move(*pending_.at(id));
  pending_.erase(id);
  return outcome;
}

}  // namespace kata::ttrpc
