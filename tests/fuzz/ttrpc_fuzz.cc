// Fuzz target for the ttrpc frame decoder, the server's per-frame protocol (ServerProtocol) and
// the request/response envelopes: the bytes a peer can put on a ttrpc socket. Input: byte 0
// picks the side (bit 0: server reading requests, or client reading responses) and the read
// size (1..128 bytes, like short reads from a socket); the rest is the byte stream.
//
// Invariants: the decoder never holds more than one header plus 4 MiB; reading in chunks gives
// the same frames as reading it whole; every frame's data is its announced length (or it is
// reported oversized); the server dispatches only registered methods, on odd and increasing
// stream ids, and every answer it would send is a valid frame within the limit; decoded
// envelopes re-encode to the same values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/ttrpc_frame.h"
#include "lib/ttrpc_message.h"
#include "lib/ttrpc_server.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kata::ttrpc;
using kata::fuzz::check;

namespace {

[[maybe_unused]] const bool kQuiet = kata::fuzz::quietProtobuf();

struct Seen {
  FrameHeader header;
  std::string data;
  bool oversized;
};

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<Seen> decode(const uint8_t* data, size_t size, size_t chunk) {
  std::vector<Seen> frames;
  FrameDecoder decoder;
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = std::min(chunk, size - off);
    kata::Status st = decoder.feed({data + off, n}, [&](const Frame& f) {
      check(f.oversized ? f.header.length > kMaxMessageBytes && f.data.empty()
                        : f.data.size() == f.header.length);
      frames.push_back({f.header, std::string(f.data.begin(), f.data.end()), f.oversized});
      return kata::okStatus();
    });
    check(st.ok());  // the handler never fails, so neither does the decoder
    check(decoder.buffered() <= kHeaderSize + kMaxMessageBytes);
  }
  return frames;
}

// Decodes an answer the server would send: one response frame within the limit, on `id`.
void checkAnswer(uint32_t id, const Reply& reply) {
  std::string frame = encodeResponseFrame(id, reply);
  check(frame.size() <= kHeaderSize + kMaxMessageBytes);
  FrameHeader h = decodeHeader(reinterpret_cast<const uint8_t*>(frame.data()));
  check(h.streamId == id && h.is(MessageType::Response));
  check(h.length == frame.size() - kHeaderSize);
  auto parsed = parseResponse(bytesOf(frame).subspan(kHeaderSize));
  check(parsed.ok() && parsed->status.code == reply.status.code);
}

void serverSide(const std::vector<Seen>& frames) {
  ServiceTable services;
  auto echo = [](Context&, std::string_view p) { return Reply::success(std::string(p)); };
  check(services.add("containerd.task.v2.Task", "Wait", echo).ok());
  check(services.add("s", "m", echo).ok());
  ServerProtocol protocol(services);
  uint32_t lastDispatched = 0;
  for (const Seen& s : frames) {
    Frame frame{s.header, bytesOf(s.data), s.oversized};
    ServerProtocol::Action a = protocol.onFrame(frame);
    check(a.streamId == s.header.streamId);
    switch (a.kind) {
      case ServerProtocol::Action::Kind::Ignore:
        check(!s.oversized && !s.header.is(MessageType::Request));
        break;
      case ServerProtocol::Action::Kind::Refuse:
        check(!a.refusal.ok() && !a.refusal.message.empty());
        checkAnswer(a.streamId, Reply{a.refusal, {}});
        break;
      case ServerProtocol::Action::Kind::Dispatch: {
        check(s.header.is(MessageType::Request) && !s.oversized);
        check(a.streamId % 2 == 1 && a.streamId > lastDispatched);
        lastDispatched = a.streamId;
        check(a.handler == services.find(a.request.service, a.request.method));
        check(a.handler != nullptr && a.request.timeoutNanos >= 0);
        // The request re-encodes to bytes that decode to the same values.
        auto again = parseRequest(bytesOf(encodeRequest(a.request)));
        check(again.ok() && again->service == a.request.service &&
              again->method == a.request.method && again->payload == a.request.payload &&
              again->timeoutNanos == a.request.timeoutNanos &&
              again->metadata == a.request.metadata);
        checkAnswer(a.streamId, Reply::success(a.request.payload));
        break;
      }
    }
  }
}

void clientSide(const std::vector<Seen>& frames) {
  for (const Seen& s : frames) {
    if (s.oversized || !s.header.is(MessageType::Response)) continue;
    auto reply = parseResponse(bytesOf(s.data));
    if (!reply.ok()) continue;
    check(reply->ok() || reply->payload.empty());
    auto again = parseResponse(bytesOf(encodeResponse(*reply)));
    check(again.ok() && again->status.code == reply->status.code &&
          again->status.message == reply->status.message && again->payload == reply->payload);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  size_t chunk = 1 + (mode >> 1);
  std::vector<Seen> frames = decode(data + 1, size - 1, chunk);
  std::vector<Seen> whole = decode(data + 1, size - 1, size);
  check(frames.size() == whole.size());
  for (size_t i = 0; i < frames.size(); i++) {
    check(frames[i].data == whole[i].data && frames[i].oversized == whole[i].oversized &&
          frames[i].header.streamId == whole[i].header.streamId &&
          frames[i].header.length == whole[i].header.length);
  }
  if (mode & 1) {
    clientSide(frames);
  } else {
    serverSide(frames);
  }
  return 0;
}
