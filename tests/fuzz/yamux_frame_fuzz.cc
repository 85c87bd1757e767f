// Fuzz target for the yamux frame decoder and session state machine: the bytes a hostile guest
// can put on the agent channel. Input: byte 0 picks the role and chunking; the rest is the
// stream of bytes "read from the connection". Whatever arrives, the session must not crash,
// must keep each stream's buffer within the window it granted, and must end dead after an
// error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "lib/yamux_session.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kata::yamux;

namespace {

using kata::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  SessionConfig cfg;
  cfg.role = (mode & 1) ? Role::Client : Role::Server;
  cfg.maxStreams = 8;
  Session session(cfg);
  if (mode & 2) (void)session.open();  // gives client-parity frames a stream to hit
  size_t chunk = 1 + (mode >> 2) * 3;  // 1..190 byte reads, like short reads from a socket
  size_t off = 1;
  while (off < size) {
    size_t n = std::min(chunk, size - off);
    kata::Status st = session.receive({data + off, n});
    off += n;
    for (const Event& ev : session.takeEvents()) {
      // Behave like an application: consume half of what arrives, reply on some streams.
      if (ev.type == EventType::Readable) {
        check(session.buffered(ev.id) <= cfg.receiveWindow);
        check(session.rxMemory(ev.id) <= session.buffered(ev.id) + 2 * kRxChunk);
        auto c = session.peek(ev.id);
        session.consume(ev.id, c.size() / 2 + 1);
        if (session.sendWindow(ev.id) > 0) (void)session.send(ev.id, c.first(c.size() / 4));
        if (session.atEof(ev.id)) (void)session.closeWrite(ev.id);
      } else if (ev.type == EventType::Accepted && (ev.id & 2)) {
        session.reset(ev.id);
      }
    }
    if (!st.ok()) {
      check(session.dead());
      check(!session.receive({data, 1}).ok());
      break;
    }
    // Output is at most a bounded multiple of the input (replies, window updates, data).
    check(session.outputSize() <= 64 + 2 * size + 8 * kInitialWindow);
    session.advanceOutput(session.outputSize() / 2);
  }
  check(session.streamCount() <= cfg.maxStreams);
  return 0;
}
