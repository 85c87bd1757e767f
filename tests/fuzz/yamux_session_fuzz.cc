// Fuzz target for two yamux sessions talking to each other, driven by a script of operations:
// the applications on both sides (open, send, consume, half-close, reset, ping, go-away,
// reaping half-closed streams), the wire between them (delivered in arbitrary pieces) and a
// hostile peer injecting raw bytes. Whatever happens, each stream's buffer stays within its
// window, its memory within the window plus two chunks, half-closed streams within their
// limit, and a session that failed stays dead.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "lib/yamux_session.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kata::yamux;

namespace {

using kata::fuzz::check;

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return done() ? 0 : data_[pos_++]; }
  uint32_t number() { return uint32_t(byte()) << 8 | byte(); }
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::span<const uint8_t> out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void checkInvariants(const Session& s) {
  const SessionConfig& cfg = s.config();
  check(s.streamCount() <= cfg.maxStreams);
  check(s.halfClosedCount() <= cfg.maxHalfClosed);
  for (uint32_t id : s.streamIds()) {
    check(s.buffered(id) <= cfg.receiveWindow);
    check(s.rxMemory(id) <= s.buffered(id) + 2 * kRxChunk);
    check(s.peek(id).size() <= s.buffered(id));
  }
}

// Delivers up to `max` bytes of `from`'s output to `to`.
void deliver(Session& from, Session& to, size_t max) {
  auto out = from.output();
  size_t n = std::min(out.size(), max);
  if (n == 0) return;
  std::vector<uint8_t> copy(out.begin(), out.begin() + n);
  from.advanceOutput(n);
  bool wasDead = to.dead();
  kata::Status st = to.receive(copy);
  if (wasDead) check(!st.ok());
  if (!st.ok()) check(to.dead());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script script(data, size);
  SessionConfig cc;
  cc.role = Role::Client;
  cc.maxStreams = 8;
  cc.maxHalfClosed = 3;
  SessionConfig sc = cc;
  sc.role = Role::Server;
  sc.receiveWindow = kInitialWindow + script.number() * 64;  // a larger window, sometimes
  Session sides[2] = {Session(cc), Session(sc)};
  uint64_t clock = 0;
  std::vector<uint8_t> payload(64 * 1024, 'p');

  for (int steps = 0; !script.done() && steps < 4096; steps++) {
    uint8_t op = script.byte();
    Session& me = sides[op & 1];
    Session& peer = sides[(op & 1) ^ 1];
    std::vector<uint32_t> ids = me.streamIds();
    uint32_t id = ids.empty() ? script.byte() : ids[script.byte() % ids.size()];
    switch ((op >> 1) % 12) {
      case 0:
        (void)me.open();
        break;
      case 1: {
        size_t n = script.number() % payload.size() + 1;
        auto sent = me.send(id, {payload.data(), n});
        if (sent.ok()) check(*sent <= n);
        break;
      }
      case 2: {
        me.consume(id, script.number());
        break;
      }
      case 3:
        (void)me.closeWrite(id);
        break;
      case 4:
        me.reset(id);
        break;
      case 5:
      case 6:
        deliver(me, peer, size_t(script.number()) * 16 + 1);
        break;
      case 7: {
        // A hostile peer: raw bytes straight into this side's input.
        size_t n = script.byte();
        (void)me.receive(script.bytes(n));
        break;
      }
      case 8:
        me.ping(script.number());
        break;
      case 9:
        me.goAway(static_cast<GoAwayCode>(script.byte() % 3));
        break;
      case 10:
        clock += script.number();
        me.setClock(clock);
        (void)me.reapHalfClosed(script.number());
        break;
      case 11:
        me.advanceOutput(script.number());  // a transport that loses bytes
        break;
    }
    for (Session& s : sides) {
      (void)s.takeEvents();
      checkInvariants(s);
    }
  }
  return 0;
}
