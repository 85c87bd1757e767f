#include "tests/component/proxy/proxy_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/uv_handle.h"
#include "lib/yamux_bridge.h"

extern char** environ;

namespace kata::testing {
namespace {

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

UniqueFd listenAt(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  ::unlink(path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ::listen(fd.get(), 16) < 0) {
    return UniqueFd();
  }
  return fd;
}

}  // namespace

void echoService(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (!writeAll(fd, buf, static_cast<size_t>(n))) break;
  }
  ::shutdown(fd, SHUT_WR);
}

bool writeAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, p, size);  // a pipe
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

uint8_t patternByte(uint64_t i, uint32_t seed) {
  uint64_t x = (i + seed) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>(x >> 56);
}

long rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

UniqueFd connectWithRetry(const std::string& path, int ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  for (int waited = 0; waited <= ms; waited += 10) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    sleepMs(10);
  }
  return UniqueFd();
}

// ---- FakeAgent -----------------------------------------------------------------------------

FakeAgent::FakeAgent(const std::string& dir, Mode mode, Service service)
    : dir_(dir), mode_(mode), service_(std::move(service)) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_,
                [](uv_async_t* a) { static_cast<FakeAgent*>(a->data)->onAsync(); });
  async_.data = this;
  statsTimer_ = std::make_unique<uv::Timer>();
  (void)statsTimer_->init(&loop_, [this] {
    if (mux_) pingsReceived = mux_->stats().pingsReceived;
  });
  statsTimer_->start(20, 20);
  consoleListen_ = listenAt(consolePath());
  loopThread_ = std::thread([this] { runLoop(); });
}

FakeAgent::~FakeAgent() {
  stopRequested_ = true;
  uv_async_send(&async_);
  loopThread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard l(mu_);
    threads.swap(serviceThreads_);
  }
  for (auto& t : threads) t.join();
  uv_loop_close(&loop_);
  ::unlink(muxPath().c_str());
  ::unlink(consolePath().c_str());
}

void FakeAgent::listen() {
  // Bound from the test thread; the poll is added by the loop thread on the next wakeup.
  muxListen_ = listenAt(muxPath());
  uv_async_send(&async_);
}

void FakeAgent::dropConnection() {
  dropRequested_ = true;
  uv_async_send(&async_);
}

bool FakeAgent::writeConsole(const std::string& text) {
  if (!consoleConn_) {
    // The proxy connects right after the agent channel; accept it here.
    struct timeval tv {
      5, 0
    };
    setsockopt(consoleListen_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    consoleConn_.reset(::accept4(consoleListen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!consoleConn_) return false;
  }
  return writeAll(consoleConn_.get(), text.data(), text.size());
}

void FakeAgent::runLoop() { uv_run(&loop_, UV_RUN_DEFAULT); }

void FakeAgent::onAsync() {
  if (stopRequested_) {
    mux_.reset();
    muxListenPoll_.reset();
    statsTimer_.reset();
    garbageConn_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    return;
  }
  if (dropRequested_.exchange(false)) {
    mux_.reset();  // closes the fd with no go-away: the VM vanished
    garbageConn_.reset();
  }
  if (muxListen_ && !muxListenPoll_) {
    muxListenPoll_ = std::make_unique<uv::Poll>();
    (void)muxListenPoll_->init(&loop_, muxListen_.get(), [this](int, int) { onMuxConnection(); });
    muxListenPoll_->want(UV_READABLE);
  }
}

void FakeAgent::onMuxConnection() {
  UniqueFd conn(::accept4(muxListen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return;
  muxListenPoll_->want(0);  // QEMU's chardev takes one client at a time
  connected = true;
  if (mode_ == Mode::Garbage) {
    const char junk[] = "\x07\x00\x00\x01 this is not yamux";
    writeAll(conn.get(), junk, sizeof junk);
    std::string reply;
    char buf[256];
    struct timeval tv {
      5, 0
    };
    setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while ((n = ::read(conn.get(), buf, sizeof buf)) > 0) reply.append(buf, n);
    std::lock_guard l(mu_);
    garbageReply_ = reply;
    sessionClosed = true;
    return;
  }
  yamux::MuxOptions o = yamux::serverOptions();
  auto accept = [this](yamux::Stream& stream) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
      stream.reset();
      return;
    }
    streamsServed++;
    {
      std::lock_guard l(mu_);
      int fd = sv[1];
      serviceThreads_.emplace_back([this, fd] {
        service_(fd);
        ::close(fd);
      });
    }
    (void)yamux::bridge(stream, UniqueFd(sv[0]));
  };
  auto mux = yamux::Mux::start(&loop_, std::move(conn), o, accept, [this](const Error& e) {
    std::lock_guard l(mu_);
    closeReason_ = e.str();
    sessionClosed = true;
  });
  if (mux) mux_ = std::move(mux).value();
}

// ---- ProxyProcess --------------------------------------------------------------------------

ProxyProcess::ProxyProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& stderrPath, const std::vector<std::string>& extraEnv,
                           int fd3) {
  std::vector<std::string> env = extraEnv;
  for (char** e = environ; *e; e++) env.emplace_back(*e);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // dup2 onto itself would keep FD_CLOEXEC: give the child a copy from above 3.
  UniqueFd high(fd3 >= 0 ? fcntl(fd3, F_DUPFD_CLOEXEC, 10) : -1);
  if (high) posix_spawn_file_actions_adddup2(&fa, high.get(), 3);
  if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

ProxyProcess::~ProxyProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ProxyProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool ProxyProcess::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -2;
    return false;
  }
  return true;
}

int ProxyProcess::wait(int ms) {
  for (int waited = 0; waited <= ms; waited += 5) {
    if (!running()) return status_;
    sleepMs(5);
  }
  return -1;
}

}  // namespace kata::testing
