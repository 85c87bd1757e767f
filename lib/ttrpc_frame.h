// containerd's ttrpc framing (github.com/containerd/ttrpc, PROTOCOL.md) and an incremental,
// I/O-free frame decoder.
//
// Every message is a 10-byte header and `length` bytes of data (big-endian):
//   length:32 | stream id:32 | type:8 | flags:8 | data
// Types: request 0x1 (client -> server, a ttrpc.Request), response 0x2 (server -> client, a
// ttrpc.Response), data 0x3 (streaming, ttrpc >= 1.2; containerd 1.6 never sends it). Clients
// number their streams with odd ids, each larger than the last. Data longer than 4 MiB is
// refused: the decoder skips it without buffering and reports it, so that the server can answer
// that stream with ResourceExhausted and go on, as upstream's server does.
//
// The peer is trusted in production (containerd), but the decoder is fuzzed as if it were not:
// it buffers at most one header plus kMaxMessageBytes and consumes every byte it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "lib/result.h"

namespace kata::ttrpc {

inline constexpr size_t kHeaderSize = 10;
/// Largest data length of one frame (protocol constant: 4 MiB).
inline constexpr uint32_t kMaxMessageBytes = 4 << 20;

enum class MessageType : uint8_t { Request = 0x1, Response = 0x2, Data = 0x3 };

enum Flag : uint8_t {
  kFlagRemoteClosed = 0x1,  // request/data: the sender sends no more data on this stream
  kFlagRemoteOpen = 0x2,    // request: a streaming request, more data follows
  kFlagNoData = 0x4,        // data: the frame carries no message
};

struct FrameHeader {
  uint32_t length = 0;
  uint32_t streamId = 0;
  uint8_t type = 0;  // a MessageType, or an unknown value a future peer may send
  uint8_t flags = 0;

  bool is(MessageType t) const { return type == static_cast<uint8_t>(t); }
};

/// Writes the 10 header bytes to `out`.
void encodeHeader(const FrameHeader& header, uint8_t* out);
FrameHeader decodeHeader(const uint8_t* bytes);

/// One whole frame: the header and its data, or the header alone for a frame whose data was
/// above kMaxMessageBytes and was skipped (`oversized`).
struct Frame {
  FrameHeader header;
  std::span<const uint8_t> data;  // valid only during the handler call
  bool oversized = false;
};

/// The header and data of one frame; fails (EMSGSIZE) when `data` is above kMaxMessageBytes.
Result<std::string> encodeFrame(uint32_t streamId, MessageType type, uint8_t flags,
                                std::string_view data);

/// "request id=3 flags=0x0 len=42", for logs and error messages.
std::string describe(const FrameHeader& header);

/// Splits a byte stream into frames, however the bytes are split.
class FrameDecoder {
 public:
  /// Called once per frame; a non-ok return stops decoding and is returned from feed(), after
  /// which the decoder stays failed.
  using FrameHandler = std::function<Status(const Frame&)>;

  /// Consumes all of `bytes`, calling `onFrame` for each frame completed by them.
  Status feed(std::span<const uint8_t> bytes, const FrameHandler& onFrame);
  /// Bytes of an incomplete frame held back (at most kHeaderSize + kMaxMessageBytes).
  size_t buffered() const { return partial_.size(); }
  /// True between frames: the stream may end here without cutting a frame.
  bool atBoundary() const { return !haveHeader_ && partial_.empty(); }

 private:
  std::string partial_;  // incomplete header, or the data so far of the current frame
  bool haveHeader_ = false;
  FrameHeader header_;
  uint32_t skipLeft_ = 0;  // data bytes of an oversized frame still to discard
  bool failed_ = false;
};

}  // namespace kata::ttrpc
