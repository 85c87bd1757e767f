// hashicorp yamux framing: the 12-byte header and an incremental, I/O-free frame decoder.
//
// Wire format (big-endian): version:8 (=0) | type:8 | flags:16 | stream id:32 | length:32.
// Only Data frames carry a payload; for the other types `length` is a value (window delta,
// ping opaque, go-away code). The decoder is fed untrusted bytes from the guest, so it checks
// every field and bounds the payload it will buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "lib/result.h"

namespace kata::yamux {

inline constexpr uint8_t kProtocolVersion = 0;
inline constexpr size_t kHeaderSize = 12;
/// Every stream starts with this receive window in both directions (protocol constant).
inline constexpr uint32_t kInitialWindow = 256 * 1024;

enum class FrameType : uint8_t { Data = 0, WindowUpdate = 1, Ping = 2, GoAway = 3 };

enum Flag : uint16_t {
  kFlagSyn = 0x1,  // opens a stream / ping request
  kFlagAck = 0x2,  // acknowledges an open / ping reply
  kFlagFin = 0x4,  // half-close: the sender will send no more data
  kFlagRst = 0x8,  // abrupt close of the stream
};
inline constexpr uint16_t kKnownFlags = kFlagSyn | kFlagAck | kFlagFin | kFlagRst;

enum class GoAwayCode : uint32_t { Normal = 0, ProtocolError = 1, InternalError = 2 };

struct Header {
  FrameType type = FrameType::Data;
  uint16_t flags = 0;
  uint32_t streamId = 0;
  uint32_t length = 0;

  bool has(Flag f) const { return (flags & f) != 0; }
};

/// Writes the 12 header bytes to `out`.
void encodeHeader(const Header& header, uint8_t* out);
/// Appends the header (and `payload` for Data frames) to `out`.
void appendFrame(std::string& out, const Header& header, std::span<const uint8_t> payload = {});

/// Parses and validates one header. Rejects a bad version, an unknown type, unknown flags,
/// session-level frames (ping, go-away) on a stream, stream frames on the session id, and a
/// Data length above `maxPayload`.
Result<Header> decodeHeader(const uint8_t* bytes, uint32_t maxPayload);

/// Human-readable frame summary for debug logs: "data id=3 flags=SYN|FIN len=10".
std::string describe(const Header& header);
std::string_view goAwayReason(uint32_t code);

/// Splits a byte stream into frames. Buffers at most one header plus `maxPayload` bytes.
class FrameDecoder {
 public:
  /// Called once per complete frame; the payload view is valid only during the call. A non-ok
  /// return stops decoding and is returned from feed().
  using FrameHandler = std::function<Status(const Header&, std::span<const uint8_t> payload)>;

  explicit FrameDecoder(uint32_t maxPayload) : maxPayload_(maxPayload) {}

  /// Consumes all of `bytes`. After an error the decoder stays failed.
  Status feed(std::span<const uint8_t> bytes, const FrameHandler& onFrame);
  /// Bytes of an incomplete frame held back.
  size_t pending() const { return partial_.size(); }

 private:
  uint32_t maxPayload_;
  std::string partial_;  // incomplete header, or a complete header plus a partial payload
  bool haveHeader_ = false;
  Header header_;
  bool failed_ = false;
};

}  // namespace kata::yamux
