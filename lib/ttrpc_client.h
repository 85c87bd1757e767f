// A ttrpc client: calls methods of a ttrpc server (a shim v2's task service, or our own server
// in tests) over one unix socket connection shared by every calling thread.
//
// Requests use odd stream ids, increasing from 1, as upstream's client numbers them. A reader
// thread matches responses to the waiting calls by stream id; a response for a call that gave
// up (its timeout passed) or for an unknown id is dropped, as are frames of other types.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "lib/result.h"
#include "lib/ttrpc_frame.h"
#include "lib/ttrpc_message.h"
#include "lib/unique_fd.h"

namespace kata::ttrpc {

class Client {
 public:
  /// Connects to the server socket at `path`, retrying a missing or refusing socket for up to
  /// `retryMs`.
  static Result<std::unique_ptr<Client>> connect(const std::string& path, int retryMs = 0);
  /// Takes over a connected stream socket.
  static Result<std::unique_ptr<Client>> fromFd(UniqueFd fd);

  ~Client();  // close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Calls `service`/`method` with the serialized request message `payload`. Thread-safe.
  /// Returns the server's reply, whose status may be an error; a DeadlineExceeded reply when
  /// `timeout` (zero: none; the server is told it as timeout_nano) passes first; an error when
  /// the request is too large (EMSGSIZE), the connection fails or was closed (ECONNRESET,
  /// ECONNABORTED), or the response is malformed (EPROTO) or too large (EMSGSIZE).
  Result<Reply> call(std::string_view service, std::string_view method, std::string_view payload,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds{0},
                     const Metadata& metadata = {});

  /// Closes the connection; waiting and later calls fail (ECONNABORTED).
  void close();

 private:
  explicit Client(UniqueFd fd);
  void readLoop();
  /// Ends the connection: every waiting call gets `why`, later calls fail with it.
  void fail(const Error& why);
  /// Writes one whole frame (writeMu_ held), waiting for the socket until `deadline`
  /// (ETIMEDOUT). `partial` tells whether a part of it went out.
  Status writeFrameLocked(const std::string& frame,
                          std::optional<std::chrono::steady_clock::time_point> deadline,
                          bool& partial);

  UniqueFd fd_;
  std::thread reader_;
  std::mutex writeMu_;  // taken before mu_: one frame at a time, in stream id order

  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  uint32_t nextStreamId_ = 1;
  std::optional<Error> broken_;                               // set once the connection has ended
  std::map<uint32_t, std::optional<Result<Reply>>> pending_;  // stream id -> its outcome
};

}  // namespace kata::ttrpc
