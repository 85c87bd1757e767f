#include "lib/yamux_frame.h"

#include <algorithm>
#include <cstdio>

namespace kata::yamux {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string_view typeName(FrameType t) {
  switch (t) {
    case FrameType::Data:
      return "data";
    case FrameType::WindowUpdate:
      return "window-update";
    case FrameType::Ping:
      return "ping";
    case FrameType::GoAway:
      return "go-away";
  }
  return "unknown";
}

}  // namespace

void encodeHeader(const Header& h, uint8_t* out) {
  out[0] = kProtocolVersion;
  out[1] = static_cast<uint8_t>(h.type);
  put16(out + 2, h.flags);
  put32(out + 4, h.streamId);
  put32(out + 8, h.length);
}

void appendFrame(std::string& out, const Header& header, std::span<const uint8_t> payload) {
  uint8_t hdr[kHeaderSize];
  encodeHeader(header, hdr);
  out.append(reinterpret_cast<const char*>(hdr), sizeof hdr);
  if (!payload.empty()) out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
}

Result<Header> decodeHeader(const uint8_t* b, uint32_t maxPayload) {
  if (b[0] != kProtocolVersion) {
    return makeError("bad yamux version " + std::to_string(b[0]));
  }
  if (b[1] > static_cast<uint8_t>(FrameType::GoAway)) {
    return makeError("unknown yamux frame type " + std::to_string(b[1]));
  }
  Header h;
  h.type = static_cast<FrameType>(b[1]);
  h.flags = get16(b + 2);
  h.streamId = get32(b + 4);
  h.length = get32(b + 8);
  if ((h.flags & ~kKnownFlags) != 0) {
    char hex[8];
    snprintf(hex, sizeof hex, "%04x", h.flags);
    return makeError(std::string("unknown yamux flags 0x") + hex + " in " + describe(h));
  }
  bool sessionFrame = h.type == FrameType::Ping || h.type == FrameType::GoAway;
  if (sessionFrame && h.streamId != 0) {
    return makeError(describe(h) + " on a stream (must use id 0)");
  }
  if (!sessionFrame && h.streamId == 0) {
    return makeError(describe(h) + " on the session id 0");
  }
  if (h.type == FrameType::Data && h.length > maxPayload) {
    return makeError("oversize " + describe(h) + " (limit " + std::to_string(maxPayload) + ")");
  }
  return h;
}

std::string describe(const Header& h) {
  std::string s(typeName(h.type));
  s += " id=" + std::to_string(h.streamId);
  if (h.flags != 0) {
    s += " flags=";
    bool first = true;
    auto add = [&](Flag f, const char* name) {
      if (!h.has(f)) return;
      if (!first) s += '|';
      s += name;
      first = false;
    };
    add(kFlagSyn, "SYN");
    add(kFlagAck, "ACK");
    add(kFlagFin, "FIN");
    add(kFlagRst, "RST");
    if ((h.flags & ~kKnownFlags) != 0) s += (first ? "" : "|") + std::to_string(h.flags);
  }
  s += " len=" + std::to_string(h.length);
  return s;
}

std::string_view goAwayReason(uint32_t code) {
  switch (code) {
    case 0:
      return "normal termination";
    case 1:
      return "protocol error";
    case 2:
      return "internal error";
  }
  return "unknown go-away code";
}

Status FrameDecoder::feed(std::span<const uint8_t> bytes, const FrameHandler& onFrame) {
  if (failed_) return makeError("yamux decoder already failed");
  auto fail = [&](Error e) -> Status {
    failed_ = true;
    partial_.clear();
    return e;
  };
  while (!bytes.empty()) {
    if (!haveHeader_) {
      // Fast path: a whole header available without buffering.
      if (partial_.empty() && bytes.size() >= kHeaderSize) {
        auto h = decodeHeader(bytes.data(), maxPayload_);
        if (!h) return fail(std::move(h).error());
        header_ = *h;
        bytes = bytes.subspan(kHeaderSize);
      } else {
        size_t take = std::min(bytes.size(), kHeaderSize - partial_.size());
        partial_.append(reinterpret_cast<const char*>(bytes.data()), take);
        bytes = bytes.subspan(take);
        if (partial_.size() < kHeaderSize) return okStatus();
        auto h = decodeHeader(reinterpret_cast<const uint8_t*>(partial_.data()), maxPayload_);
        if (!h) return fail(std::move(h).error());
        header_ = *h;
        partial_.clear();
      }
      haveHeader_ = true;
    }
    uint32_t need = header_.type == FrameType::Data ? header_.length : 0;
    std::span<const uint8_t> payload;
    if (partial_.empty() && bytes.size() >= need) {
      payload = bytes.first(need);  // zero-copy: the whole payload is in this chunk
      bytes = bytes.subspan(need);
    } else {
      size_t take = std::min<size_t>(bytes.size(), need - partial_.size());
      if (partial_.empty()) partial_.reserve(need);
      partial_.append(reinterpret_cast<const char*>(bytes.data()), take);
      bytes = bytes.subspan(take);
      if (partial_.size() < need) return okStatus();
      payload = {reinterpret_cast<const uint8_t*>(partial_.data()), partial_.size()};
    }
    haveHeader_ = false;
    Status st = onFrame(header_, payload);
    partial_.clear();
    if (!st.ok()) return fail(std::move(st).error());
  }
  return okStatus();
}

}  // namespace kata::yamux
