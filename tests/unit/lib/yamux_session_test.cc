#include "lib/yamux_session.h"

#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata::yamux;

namespace {

std::vector<uint8_t> frame(FrameType type, uint16_t flags, uint32_t id, uint32_t length,
                           const std::string& payload = "") {
  std::string out;
  appendFrame(out, Header{type, flags, id, length},
              {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  return std::vector<uint8_t>(out.begin(), out.end());
}

std::vector<uint8_t> drain(Session& s) {
  auto o = s.output();
  std::vector<uint8_t> copy(o.begin(), o.end());
  s.advanceOutput(o.size());
  return copy;
}

SessionConfig config(Role role, uint32_t window = kInitialWindow, size_t maxStreams = 1024) {
  SessionConfig c;
  c.role = role;
  c.receiveWindow = window;
  c.maxStreams = maxStreams;
  return c;
}

// Moves bytes both ways until both sessions are quiet; returns the first receive error.
kata::Status pump(Session& a, Session& b) {
  for (int i = 0; i < 1000; i++) {
    bool moved = false;
    if (a.outputSize() > 0) {
      KATA_TRY(b.receive(drain(a)));
      moved = true;
    }
    if (b.outputSize() > 0) {
      KATA_TRY(a.receive(drain(b)));
      moved = true;
    }
    if (!moved) break;
  }
  return kata::okStatus();
}

std::vector<uint8_t> goAwayFrame(GoAwayCode code) {
  return frame(FrameType::GoAway, 0, 0, static_cast<uint32_t>(code));
}

bool hasEvent(const std::vector<Event>& evs, EventType type, uint32_t id) {
  for (const auto& e : evs) {
    if (e.type == type && e.id == id) return true;
  }
  return false;
}

std::span<const uint8_t> str(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string readAll(Session& s, uint32_t id) {
  std::string out;
  for (auto chunk = s.peek(id); !chunk.empty(); chunk = s.peek(id)) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    s.consume(id, chunk.size());
  }
  return out;
}

}  // namespace

TEST_GROUP(YamuxSession) {
  Session client{config(Role::Client)};
  Session server{config(Role::Server)};
};

TEST(YamuxSession, ClientOpensOddIdsWithWindowUpdateSyn) {
  LONGS_EQUAL(1, client.open().value());
  CHECK(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0) == drain(client));
  LONGS_EQUAL(3, client.open().value());
  LONGS_EQUAL(2, server.open().value());
  LONGS_EQUAL(4, server.open().value());
}

TEST(YamuxSession, OpenIsAcceptedAndAcknowledged) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  CHECK(hasEvent(server.takeEvents(), EventType::Accepted, id));
  CHECK(hasEvent(client.takeEvents(), EventType::Established, id));
  CHECK(server.exists(id));
}

TEST(YamuxSession, DataHalfCloseAndFullClose) {
  uint32_t id = client.open().value();
  LONGS_EQUAL(5, client.send(id, str("hello")).value());
  CHECK(client.closeWrite(id).ok());
  CHECK_FALSE(client.send(id, str("x")).ok());
  CHECK(pump(client, server).ok());
  auto evs = server.takeEvents();
  CHECK(hasEvent(evs, EventType::Readable, id));
  CHECK(server.remoteClosed(id));
  CHECK_FALSE(server.atEof(id));
  STRCMP_EQUAL("hello", readAll(server, id).c_str());
  CHECK(server.atEof(id));
  // The server can still answer on its half.
  LONGS_EQUAL(3, server.send(id, str("bye")).value());
  CHECK(server.closeWrite(id).ok());
  CHECK(hasEvent(server.takeEvents(), EventType::Closed, id));
  LONGS_EQUAL(0, server.streamCount());
  CHECK(pump(client, server).ok());
  STRCMP_EQUAL("bye", readAll(client, id).c_str());
  CHECK(hasEvent(client.takeEvents(), EventType::Closed, id));
  LONGS_EQUAL(0, client.streamCount());
}

TEST(YamuxSession, NeverSendsPastThePeerWindow) {
  uint32_t id = client.open().value();
  std::string big(1 << 20, 'a');
  LONGS_EQUAL(kInitialWindow, client.send(id, str(big)).value());
  LONGS_EQUAL(0, client.sendWindow(id));
  LONGS_EQUAL(0, client.send(id, str(big)).value());
  CHECK(pump(client, server).ok());
  LONGS_EQUAL(kInitialWindow, server.buffered(id));
  // Consuming less than half a window grants nothing yet.
  server.consume(id, 100 * 1024);
  CHECK(pump(client, server).ok());
  LONGS_EQUAL(0, client.sendWindow(id));
  server.consume(id, 28 * 1024);
  CHECK(pump(client, server).ok());
  LONGS_EQUAL(128 * 1024, client.sendWindow(id));
  CHECK(hasEvent(client.takeEvents(), EventType::Writable, id));
  LONGS_EQUAL(128 * 1024, server.buffered(id));
}

TEST(YamuxSession, LargerReceiveWindowIsGrantedWithTheAck) {
  Session bigServer(config(Role::Server, 1 << 20));
  uint32_t id = client.open().value();
  CHECK(pump(client, bigServer).ok());
  LONGS_EQUAL(1 << 20, client.sendWindow(id));
}

TEST(YamuxSession, DataBeyondTheWindowIsAProtocolError) {
  uint32_t id = client.open().value();
  CHECK(server.receive(drain(client)).ok());
  drain(server);
  std::string chunk(200 * 1024, 'x');
  CHECK(server.receive(frame(FrameType::Data, 0, id, chunk.size(), chunk)).ok());
  auto st = server.receive(frame(FrameType::Data, 0, id, chunk.size(), chunk));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("exceed the window", st.error().message.c_str());
  CHECK(server.dead());
  CHECK(goAwayFrame(GoAwayCode::ProtocolError) == drain(server));
  LONGS_EQUAL(200 * 1024, server.buffered(id));
  CHECK_FALSE(server.receive(frame(FrameType::Ping, kFlagSyn, 0, 1)).ok());
}

TEST(YamuxSession, WindowOverflowIsAProtocolError) {
  uint32_t id = server.open().value();
  CHECK(client.receive(drain(server)).ok());
  auto st = server.receive(frame(FrameType::WindowUpdate, 0, id, 0xffffffffu));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("window overflow", st.error().message.c_str());
}

TEST(YamuxSession, FrameForANeverOpenedStreamIsAProtocolError) {
  auto st = server.receive(frame(FrameType::Data, 0, 9, 1, "x"));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("unknown stream", st.error().message.c_str());
  CHECK(goAwayFrame(GoAwayCode::ProtocolError) == drain(server));
}

TEST(YamuxSession, FrameRacingWithOurResetIsDropped) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  client.reset(id);
  CHECK(client.receive(frame(FrameType::Data, 0, id, 3, "abc")).ok());
  CHECK(client.receive(frame(FrameType::WindowUpdate, 0, id, 10)).ok());
  CHECK_FALSE(client.dead());
  CHECK(pump(client, server).ok());
  CHECK(hasEvent(server.takeEvents(), EventType::Reset, id));
  CHECK_FALSE(server.exists(id));
}

TEST(YamuxSession, SynWithOurParityOrTwiceIsAProtocolError) {
  CHECK_FALSE(client.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0)).ok());
  Session s(config(Role::Server));
  CHECK(s.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0)).ok());
  auto st = s.receive(frame(FrameType::Data, kFlagSyn, 1, 1, "x"));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("duplicate", st.error().message.c_str());
}

TEST(YamuxSession, DataAfterFinIsAProtocolError) {
  // Payload and FIN in one frame are fine; more data after it is not.
  CHECK(server.receive(frame(FrameType::Data, kFlagSyn | kFlagFin, 1, 2, "ab")).ok());
  LONGS_EQUAL(2, server.buffered(1));
  auto st = server.receive(frame(FrameType::Data, 0, 1, 1, "c"));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("after FIN", st.error().message.c_str());
}

TEST(YamuxSession, PingIsAnsweredWithTheSameOpaqueValue) {
  server.ping(77);
  CHECK(frame(FrameType::Ping, kFlagSyn, 0, 77) == drain(server));
  server.ping(78);
  CHECK(pump(client, server).ok());
  LONGS_EQUAL(1, client.stats().pingsReceived);
  auto evs = server.takeEvents();
  LONGS_EQUAL(1, evs.size());
  CHECK(evs[0].type == EventType::Pong);
  LONGS_EQUAL(78, evs[0].value);
}

// As hashicorp/yamux: go-away(normal) refuses new streams; the open ones carry on.
TEST(YamuxSession, GoAwayNormalOnlyStopsNewStreamsOnTheReceiver) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  server.takeEvents();
  client.goAway(GoAwayCode::Normal);
  CHECK_FALSE(client.open().ok());
  CHECK(server.receive(drain(client)).ok());
  CHECK_FALSE(server.dead());
  CHECK(server.peerWentAway());
  auto evs = server.takeEvents();
  CHECK(evs.size() == 1 && evs[0].type == EventType::GoAway && evs[0].value == 0);
  LONGS_EQUAL(0, server.outputSize());  // nothing to answer
  CHECK_FALSE(server.open().ok());
  LONGS_EQUAL(2, server.send(id, str("up")).value());
  LONGS_EQUAL(4, client.send(id, str("down")).value());
  CHECK(pump(client, server).ok());
  STRCMP_EQUAL("down", readAll(server, id).c_str());
  STRCMP_EQUAL("up", readAll(client, id).c_str());
}

TEST(YamuxSession, GoAwayWithAnErrorCodeEndsTheSession) {
  auto st = server.receive(goAwayFrame(GoAwayCode::InternalError));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("go-away: internal error", st.error().message.c_str());
  CHECK(server.dead());
  LONGS_EQUAL(0, server.outputSize());  // nothing sent back to a peer that is leaving
}

// hashicorp/yamux allocates an id and queues its SYN in two steps: concurrent opens race.
TEST(YamuxSession, SynsOutOfIdOrderAreAccepted) {
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 5, 0)).ok());
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0)).ok());
  CHECK(server.receive(frame(FrameType::Data, kFlagSyn, 3, 1, "x")).ok());
  auto evs = server.takeEvents();
  CHECK(hasEvent(evs, EventType::Accepted, 5));
  CHECK(hasEvent(evs, EventType::Accepted, 1));
  CHECK(hasEvent(evs, EventType::Accepted, 3));
  LONGS_EQUAL(3, server.streamCount());
}

TEST(YamuxSession, ReopeningAClosedIdIsAProtocolErrorEvenOutOfOrder) {
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 5, 0)).ok());
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0)).ok());
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagRst, 1, 0)).ok());
  auto st = server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("reused stream id 1", st.error().message.c_str());
}

TEST(YamuxSession, FrameForASkippedIdIsAProtocolError) {
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 5, 0)).ok());
  auto st = server.receive(frame(FrameType::Data, 0, 3, 1, "x"));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("unknown stream", st.error().message.c_str());
}

TEST(YamuxSession, SkippedIdsAreBounded) {
  uint32_t far = 1 + 2 * static_cast<uint32_t>(kMaxSkippedRemoteIds);
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, far, 0)).ok());
  Session other(config(Role::Server));
  auto st = other.receive(frame(FrameType::WindowUpdate, kFlagSyn, far + 2, 0));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("skips", st.error().message.c_str());
}

TEST(YamuxSession, StreamsOpenedAfterOurGoAwayAreRefused) {
  server.goAway(GoAwayCode::Normal);
  drain(server);
  CHECK(server.receive(frame(FrameType::WindowUpdate, kFlagSyn, 1, 0)).ok());
  CHECK(frame(FrameType::WindowUpdate, kFlagRst, 1, 0) == drain(server));
  LONGS_EQUAL(0, server.streamCount());
}

TEST(YamuxSession, ResetReachesThePeer) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  server.takeEvents();
  server.reset(id);
  CHECK(pump(client, server).ok());
  CHECK(hasEvent(client.takeEvents(), EventType::Reset, id));
  CHECK_FALSE(client.exists(id));
  LONGS_EQUAL(0, server.takeEvents().size());  // a local reset raises no event
}

TEST(YamuxSession, StreamsBeyondTheLimitAreReset) {
  Session small(config(Role::Server, kInitialWindow, 1));
  uint32_t a = client.open().value();
  uint32_t b = client.open().value();
  CHECK(pump(client, small).ok());
  LONGS_EQUAL(1, small.streamCount());
  auto evs = client.takeEvents();
  CHECK(hasEvent(evs, EventType::Established, a));
  CHECK(hasEvent(evs, EventType::Reset, b));
}

TEST(YamuxSession, UnsolicitedPingWithoutFlagsIsAProtocolError) {
  CHECK_FALSE(server.receive(frame(FrameType::Ping, 0, 0, 1)).ok());
}

TEST(YamuxSession, OutputIsCompactedAsItIsWritten) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  std::string chunk(64 * 1024, 'z');
  size_t total = 0;
  for (int i = 0; i < 64; i++) {
    total += client.send(id, str(chunk)).value();
    CHECK(server.receive(drain(client)).ok());
    server.consume(id, server.buffered(id));
    CHECK(client.receive(drain(server)).ok());
  }
  LONGS_EQUAL(64u * 64 * 1024, total);
  LONGS_EQUAL(total, server.stats().bytesReceived);
  LONGS_EQUAL(0, client.outputSize());
}

// ---- memory follows bytes, not frames ------------------------------------------------------

TEST(YamuxSession, OneByteFramesCostAboutTheWindowInRealMemory) {
  // A peer filling a stream's whole window with one-byte frames: the heap grows by the window
  // plus one chunk, not by a per-frame allocation (which cost 30-50x the window).
  std::string flood;
  appendFrame(flood, Header{FrameType::WindowUpdate, kFlagSyn, 1, 0});
  const uint8_t byte = 'x';
  for (uint32_t i = 0; i < kInitialWindow; i++) {
    appendFrame(flood, Header{FrameType::Data, 0, 1, 1}, {&byte, 1});
  }
  Session s(config(Role::Server));
  const size_t before = mallinfo2().uordblks;
  // Read as a socket would hand it over: 64 KiB at a time.
  for (size_t off = 0; off < flood.size(); off += 65536) {
    size_t n = std::min<size_t>(65536, flood.size() - off);
    CHECK(s.receive(str(flood.substr(off, n))).ok());
  }
  const size_t grown = mallinfo2().uordblks - before;
  LONGS_EQUAL(kInitialWindow, s.buffered(1));
  CHECK(s.rxMemory(1) <= kInitialWindow + kRxChunk);
  // The window, its chunk bookkeeping and the decoder's one-frame buffer; the ACK in output.
  CHECK_TEXT(grown <= kInitialWindow + 64 * 1024, std::to_string(grown).c_str());
  // One byte more is beyond the window: a protocol error, not more memory.
  CHECK_FALSE(s.receive(frame(FrameType::Data, 0, 1, 1, "y")).ok());
}

TEST(YamuxSession, ChunkedBufferKeepsBytesInOrderAcrossFramesAndConsumes) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  std::string sent, got;
  unsigned seed = 7;
  for (int round = 0; round < 200; round++) {
    seed = seed * 1103515245 + 12345;
    size_t n = 1 + (seed >> 8) % 40000;  // frames above and below a chunk
    std::string data(n, '\0');
    for (size_t i = 0; i < n; i++) data[i] = char('a' + (sent.size() + i) % 26);
    size_t took = client.send(id, str(data)).value();
    sent += data.substr(0, took);
    CHECK(pump(client, server).ok());
    // Consume an odd amount, not whole chunks.
    auto chunk = server.peek(id);
    size_t eat = std::min(chunk.size(), size_t((seed >> 4) % 30000));
    got.append(reinterpret_cast<const char*>(chunk.data()), eat);
    server.consume(id, eat);
    CHECK(server.rxMemory(id) <= server.buffered(id) + 2 * kRxChunk);
  }
  got += readAll(server, id);
  CHECK(sent == got);
  LONGS_EQUAL(0, server.rxMemory(id));  // a drained stream holds nothing
}

// ---- half-closed streams are reaped --------------------------------------------------------

TEST(YamuxSession, StreamWeClosedIsReapedWhenThePeerNeverCloses) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  client.setClock(1000);
  CHECK(client.closeWrite(id).ok());
  CHECK(pump(client, server).ok());
  CHECK(server.remoteClosed(id));  // the peer got our FIN and just keeps its side open
  LONGS_EQUAL(1, client.halfClosedCount());
  client.setClock(1000 + 59999);
  LONGS_EQUAL(0, client.reapHalfClosed(60000));
  CHECK(client.exists(id));
  client.setClock(1000 + 60000);
  (void)client.takeEvents();
  LONGS_EQUAL(1, client.reapHalfClosed(60000));
  auto evs = client.takeEvents();
  LONGS_EQUAL(1, evs.size());
  CHECK(evs[0].type == EventType::Reaped && evs[0].id == id && evs[0].value == 0);
  CHECK_FALSE(client.exists(id));
  LONGS_EQUAL(0, client.halfClosedCount());
  // The peer learns it with an RST.
  CHECK(pump(client, server).ok());
  CHECK(hasEvent(server.takeEvents(), EventType::Reset, id));
  LONGS_EQUAL(0, server.streamCount());
}

TEST(YamuxSession, StreamThePeerClosesInTimeIsNotReaped) {
  uint32_t id = client.open().value();
  CHECK(pump(client, server).ok());
  CHECK(client.closeWrite(id).ok());
  CHECK(pump(client, server).ok());
  CHECK(server.closeWrite(id).ok());
  CHECK(pump(client, server).ok());
  CHECK(hasEvent(client.takeEvents(), EventType::Closed, id));
  client.setClock(1u << 30);
  LONGS_EQUAL(0, client.reapHalfClosed(1));
  LONGS_EQUAL(0, client.halfClosedCount());
}

TEST(YamuxSession, TooManyHalfClosedStreamsResetTheOldest) {
  SessionConfig c = config(Role::Client);
  c.maxHalfClosed = 2;
  Session limited(c);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 4; i++) ids.push_back(limited.open().value());
  CHECK(pump(limited, server).ok());
  (void)limited.takeEvents();
  for (uint32_t id : ids) CHECK(limited.closeWrite(id).ok());
  auto evs = limited.takeEvents();
  LONGS_EQUAL(2, evs.size());
  CHECK(evs[0].type == EventType::Reaped && evs[0].id == ids[0] && evs[0].value == 1);
  CHECK(evs[1].type == EventType::Reaped && evs[1].id == ids[1] && evs[1].value == 1);
  LONGS_EQUAL(2, limited.halfClosedCount());
  CHECK(limited.exists(ids[2]) && limited.exists(ids[3]));
  CHECK(pump(limited, server).ok());
  auto serverEvs = server.takeEvents();
  CHECK(hasEvent(serverEvs, EventType::Reset, ids[0]));
  CHECK(hasEvent(serverEvs, EventType::Reset, ids[1]));
}
