// A guard between a gRPC client and a server it does not trust (the guest's agent).
//
// gRPC C++ checks an incoming message against its receive limit only once the whole message is
// buffered (and decompressed): chttp2 opens its flow-control window to whatever length the
// message prefix declares (grpc/grpc#43012, still so in 1.71). A lying agent's reply of 4 GiB,
// or a small gzip bomb, would cost the runtime or a shim that much memory before the limit
// refuses it. The guard relays the connection and reads the server's HTTP/2 frames before gRPC
// does: at the first gRPC message declared above the limit, compressed message (our clients
// never need one), header block above its cap, or too many streams, it cuts the connection and
// keeps the reason. gRPC then fails the call (UNAVAILABLE); the caller reports violation().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::grpcguard {

struct Limits {
  uint32_t maxMessageBytes = 4 << 20;       // largest gRPC message payload accepted
  uint32_t maxHeaderBlockBytes = 64 << 10;  // one HEADERS frame and its CONTINUATIONs
  size_t maxOpenStreams = 1024;             // streams with a partly received message
};

/// Follows what a gRPC server sends (HTTP/2 frames; the server has no connection preface).
/// Only frame headers, padding lengths and gRPC message prefixes are read; payloads are skipped.
class ReplyScanner {
 public:
  explicit ReplyScanner(Limits limits) : limits_(limits) {}

  /// Takes the next bytes, however they are split. The first violation is an error (EPROTO)
  /// that every later call repeats.
  Status feed(std::string_view bytes);

 private:
  struct Message {
    uint8_t prefix[5] = {};
    uint8_t prefixHave = 0;
    uint64_t bodyLeft = 0;
  };
  void startFrame();
  void framePayload(std::string_view bytes);
  void endFrame();
  void messageBytes(std::string_view bytes);
  void fail(std::string why);

  Limits limits_;
  std::string failure_;
  uint8_t header_[9] = {};
  size_t headerHave_ = 0;
  // The frame being read.
  uint8_t type_ = 0, flags_ = 0;
  uint32_t stream_ = 0, length_ = 0, left_ = 0;
  bool padLengthNext_ = false;
  uint32_t dataLeft_ = 0;  // DATA bytes before the padding
  uint64_t headerBlock_ = 0;
  std::map<uint32_t, Message> messages_;
};

/// A relay thread between `server` (a connected stream socket) and a descriptor for gRPC, which
/// scans what the server sends. It ends when both sides have closed, at a violation (both
/// sides are then shut down), or when the guard is destroyed.
class GuardedConnection {
 public:
  static Result<std::unique_ptr<GuardedConnection>> start(UniqueFd server, Limits limits);
  ~GuardedConnection();
  GuardedConnection(const GuardedConnection&) = delete;
  GuardedConnection& operator=(const GuardedConnection&) = delete;

  /// The descriptor to give gRPC (grpc::CreateCustomInsecureChannelFromFd takes it over).
  int releaseClientFd() { return client_.release(); }
  /// Why the guard cut the connection; empty while it has not.
  std::string violation() const;

 private:
  GuardedConnection(Limits limits) : scanner_(limits) {}
  void relay();
  void cut(std::string why);

  ReplyScanner scanner_;
  // What waits to be written, each way: allocated here, not zeroed, so that an idle
  // connection's pages stay untouched (a shim's relay lives as long as its container).
  std::unique_ptr<char[]> toServer_, toClient_;
  UniqueFd server_, inner_, client_;  // inner_: the relay's end of the pair whose other is client_
  UniqueFd stop_;                     // eventfd, readable once the guard is destroyed
  std::thread thread_;
  mutable std::mutex mu_;
  std::string violation_;
};

}  // namespace kata::grpcguard
