#include "lib/ttrpc_frame.h"

#include <algorithm>
#include <cstdio>

namespace kata::ttrpc {
namespace {

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

void encodeHeader(const FrameHeader& h, uint8_t* out) {
  put32(out, h.length);
  put32(out + 4, h.streamId);
  out[8] = h.type;
  out[9] = h.flags;
}

FrameHeader decodeHeader(const uint8_t* b) {
  return FrameHeader{get32(b), get32(b + 4), b[8], b[9]};
}

Result<std::string> encodeFrame(uint32_t streamId, MessageType type, uint8_t flags,
                                std::string_view data) {
  if (data.size() > kMaxMessageBytes) {
    return makeError("ttrpc: message of " + std::to_string(data.size()) +
                         " bytes exceeds the limit of " + std::to_string(kMaxMessageBytes),
                     EMSGSIZE);
  }
  std::string out(kHeaderSize, '\0');
  encodeHeader(
      FrameHeader{static_cast<uint32_t>(data.size()), streamId, static_cast<uint8_t>(type), flags},
      reinterpret_cast<uint8_t*>(out.data()));
  out.append(data);
  return out;
}

std::string describe(const FrameHeader& h) {
  std::string s;
  switch (h.type) {
    case static_cast<uint8_t>(MessageType::Request):
      s = "request";
      break;
    case static_cast<uint8_t>(MessageType::Response):
      s = "response";
      break;
    case static_cast<uint8_t>(MessageType::Data):
      s = "data";
      break;
    default:
      s = "type " + std::to_string(h.type);
  }
  char flags[8];
  snprintf(flags, sizeof flags, "0x%x", h.flags);
  return s + " id=" + std::to_string(h.streamId) + " flags=" + flags +
         " len=" + std::to_string(h.length);
}

Status FrameDecoder::feed(std::span<const uint8_t> bytes, const FrameHandler& onFrame) {
  if (failed_) return makeError("ttrpc: frame decoder already failed", EPROTO);
  auto deliver = [&](const Frame& frame) -> Status {
    haveHeader_ = false;
    Status st = onFrame(frame);
    if (partial_.capacity() > 64 * 1024) {
      std::string().swap(partial_);  // an idle connection keeps no 4 MiB buffer
    } else {
      partial_.clear();
    }
    if (!st.ok()) failed_ = true;
    return st;
  };
  // Each pass completes at most one header or one frame; a zero-length frame completes with
  // its header, so the loop runs on while a header is pending even when `bytes` is empty.
  while (!bytes.empty() || haveHeader_) {
    if (!haveHeader_) {
      if (partial_.empty() && bytes.size() >= kHeaderSize) {
        header_ = decodeHeader(bytes.data());
        bytes = bytes.subspan(kHeaderSize);
      } else {
        size_t take = std::min(bytes.size(), kHeaderSize - partial_.size());
        partial_.append(reinterpret_cast<const char*>(bytes.data()), take);
        bytes = bytes.subspan(take);
        if (partial_.size() < kHeaderSize) return okStatus();
        header_ = decodeHeader(reinterpret_cast<const uint8_t*>(partial_.data()));
        partial_.clear();
      }
      haveHeader_ = true;
      skipLeft_ = header_.length > kMaxMessageBytes ? header_.length : 0;
    }
    if (header_.length > kMaxMessageBytes) {
      // Discarded as it arrives: a lying length costs reading, never memory.
      size_t n = std::min<size_t>(bytes.size(), skipLeft_);
      bytes = bytes.subspan(n);
      skipLeft_ -= static_cast<uint32_t>(n);
      if (skipLeft_ > 0) return okStatus();
      KATA_TRY(deliver(Frame{header_, {}, true}));
      continue;
    }
    uint32_t need = header_.length;
    std::span<const uint8_t> data;
    if (partial_.empty() && bytes.size() >= need) {
      data = bytes.first(need);  // zero-copy: the whole frame is in this chunk
      bytes = bytes.subspan(need);
    } else {
      // Reserving the announced length (at most the limit) avoids regrowing a 4 MiB buffer.
      if (partial_.empty()) partial_.reserve(need);
      size_t take = std::min<size_t>(bytes.size(), need - partial_.size());
      partial_.append(reinterpret_cast<const char*>(bytes.data()), take);
      bytes = bytes.subspan(take);
      if (partial_.size() < need) return okStatus();
      data = {reinterpret_cast<const uint8_t*>(partial_.data()), partial_.size()};
    }
    KATA_TRY(deliver(Frame{header_, data, false}));
  }
  return okStatus();
}

}  // namespace kata::ttrpc
