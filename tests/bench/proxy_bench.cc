// kata-proxy benchmark: throughput (MiB/s, each direction) and round-trip latency of small
// messages through the real kata-proxy binary and a yamux server standing in for the agent,
// next to the same measurements over a plain unix socketpair (no proxy, no yamux).
//
//   build/tests/bench/proxy_bench [--mib N] [--rounds N]
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/component/proxy/proxy_harness.h"

using namespace kata;
using namespace kata::testing;
using Clock = std::chrono::steady_clock;

namespace {

// 'U' upload: count bytes until EOF, answer with the count. 'D' download: send N bytes.
// 'E' echo.
void benchService(int fd) {
  char op;
  if (::read(fd, &op, 1) != 1) return;
  std::vector<char> buf(256 * 1024);
  if (op == 'U') {
    uint64_t total = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<uint64_t>(n);
    writeAll(fd, &total, sizeof total);
  } else if (op == 'D') {
    uint64_t total;
    if (::read(fd, &total, sizeof total) != sizeof total) return;
    for (uint64_t off = 0; off < total;) {
      size_t n = std::min<uint64_t>(buf.size(), total - off);
      if (!writeAll(fd, buf.data(), n)) return;
      off += n;
    }
  } else {
    echoService(fd);
  }
  ::shutdown(fd, SHUT_WR);
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double upload(int fd, uint64_t total) {
  std::vector<char> buf(256 * 1024, 'u');
  auto t0 = Clock::now();
  writeAll(fd, "U", 1);
  for (uint64_t off = 0; off < total;) {
    size_t n = std::min<uint64_t>(buf.size(), total - off);
    if (!writeAll(fd, buf.data(), n)) return -1;
    off += n;
  }
  ::shutdown(fd, SHUT_WR);
  uint64_t acked = 0;
  if (::read(fd, &acked, sizeof acked) != sizeof acked || acked != total) return -1;
  return static_cast<double>(total) / (1 << 20) / seconds(t0, Clock::now());
}

double download(int fd, uint64_t total) {
  std::vector<char> buf(256 * 1024);
  auto t0 = Clock::now();
  writeAll(fd, "D", 1);
  writeAll(fd, &total, sizeof total);
  uint64_t got = 0;
  ssize_t n;
  while (got < total && (n = ::read(fd, buf.data(), buf.size())) > 0) got += n;
  if (got != total) return -1;
  return static_cast<double>(total) / (1 << 20) / seconds(t0, Clock::now());
}

struct Latency {
  double p50 = 0, p99 = 0, mean = 0;
};

Latency roundTrips(int fd, int rounds, size_t size) {
  std::vector<char> msg(size, 'p'), back(size);
  writeAll(fd, "E", 1);
  std::vector<double> us;
  us.reserve(rounds);
  for (int i = 0; i < rounds; i++) {
    auto t0 = Clock::now();
    writeAll(fd, msg.data(), size);
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::read(fd, back.data() + got, size - got);
      if (n <= 0) return {};
      got += static_cast<size_t>(n);
    }
    us.push_back(seconds(t0, Clock::now()) * 1e6);
  }
  std::sort(us.begin(), us.end());
  Latency l;
  l.p50 = us[us.size() / 2];
  l.p99 = us[us.size() * 99 / 100];
  for (double v : us) l.mean += v / us.size();
  return l;
}

template <class Connect>
void measure(const char* name, Connect connect, uint64_t bytes, int rounds) {
  UniqueFd up = connect();
  double upRate = upload(up.get(), bytes);
  UniqueFd down = connect();
  double downRate = download(down.get(), bytes);
  UniqueFd rt = connect();
  Latency small = roundTrips(rt.get(), rounds, 64);
  UniqueFd rt4k = connect();
  Latency big = roundTrips(rt4k.get(), rounds / 4, 4096);
  std::printf("%-22s %10.0f %10.0f %9.1f %9.1f %9.1f %10.1f\n", name, upRate, downRate, small.p50,
              small.p99, small.mean, big.p50);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  uint64_t mib = 256;
  int rounds = 4000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mib")) mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  uint64_t bytes = mib << 20;

  char tmpl[] = "/tmp/kata-proxy-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  std::string dir = tmpl;
  std::string listen = dir + "/proxy.sock";

  std::printf("kata-proxy benchmark: %llu MiB per direction, %d round trips of 64 B, %d of 4 KiB\n",
              static_cast<unsigned long long>(mib), rounds, rounds / 4);
  std::printf("%-22s %10s %10s %9s %9s %9s %10s\n", "path", "up MiB/s", "down MiB/s", "rtt p50us",
              "rtt p99us", "rtt avgus", "4K p50 us");

  // Baseline: the same service on a socketpair, no proxy and no yamux.
  std::vector<std::thread> direct;
  measure(
      "unix socketpair",
      [&] {
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        direct.emplace_back([fd = sv[1]] {
          benchService(fd);
          ::close(fd);
        });
        return UniqueFd(sv[0]);
      },
      bytes, rounds);
  for (auto& t : direct) t.join();

  int rc = 0;
  {
    FakeAgent agent(dir, FakeAgent::Mode::Serve, benchService);
    agent.listen();
    ProxyProcess proxy(
        KATA_PROXY_BIN,
        {"-listen-socket", "unix://" + listen, "-mux-socket", agent.muxPath(), "-sandbox", "bench"},
        dir + "/proxy.stderr");
    measure(
        "kata-proxy + yamux", [&] { return connectWithRetry(listen, 5000); }, bytes, rounds);
    if (!proxy.running()) rc = 1;
    proxy.signal(SIGTERM);
    if (proxy.wait(5000) != 0) rc = 1;
  }
  ::unlink((dir + "/proxy.stderr").c_str());
  ::rmdir(dir.c_str());
  return rc;
}
