// The agent's yamux channel end to end, in process: the agent side (Channel + AgentServer)
// discovers a "virtio-serial port" through a fake /sys/class/virtio-ports whose device is a
// raw pty, and a yamux client on the pty master (like kata-proxy) opens a stream and speaks
// gRPC through it. Then the client goes away and the agent must serve a new session.
#include <fcntl.h>
#include <grpc/support/time.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "agent/channel.h"
#include "agent/reaper.h"
#include "agent/sandbox.h"
#include "agent/server.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/temp_dir.h"
#include "lib/yamux_bridge.h"
#include "protocols/health.grpc.pb.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

/// A yamux client (the proxy's role) on `fd`, with one stream bridged to a gRPC channel.
class ProxyLikeClient {
 public:
  explicit ProxyLikeClient(int fd) {
    uv_loop_init(&loop_);
    stop_.data = this;
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      auto* self = static_cast<ProxyLikeClient*>(a->data);
      if (self->mux_) self->mux_->shutdown();
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
    yamux::MuxOptions opts;
    opts.session.role = yamux::Role::Client;
    auto mux = yamux::Mux::start(&loop_, UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), opts, nullptr,
                                 [](const Error&) {});
    CHECK(mux.ok());
    mux_ = std::move(mux).value();
    int sv[2];
    // gRPC needs non-blocking fds (it reads until EAGAIN).
    CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
    auto stream = mux_->open();
    CHECK(stream.ok());
    CHECK(yamux::bridge(**stream, UniqueFd(sv[1])).ok());
    channel_ = ::grpc::CreateInsecureChannelFromFd("agent", sv[0]);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~ProxyLikeClient() {
    channel_.reset();
    uv_async_send(&stop_);
    thread_.join();
    mux_.reset();
    // Let every handle finish closing, then free the loop itself (LeakSanitizer checks this).
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  bool healthy() {
    auto stub = ::grpc::Health::NewStub(channel_);
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ::grpc::CheckRequest req;
    ::grpc::HealthCheckResponse resp;
    auto s = stub->Check(&ctx, req, &resp);
    return s.ok() && resp.status() == ::grpc::HealthCheckResponse::SERVING;
  }

 private:
  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::unique_ptr<yamux::Mux> mux_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::thread thread_;
};

}  // namespace

TEST_GROUP(AgentChannel){};

TEST(AgentChannel, ServesGrpcOverYamuxOnTheNamedPortAndReconnects) {
  log::Options lo;
  lo.name = "channel-test";
  lo.level = getenv("AGENT_TEST_DEBUG") ? log::Level::Debug : log::Level::Warn;
  (void)log::init(lo);
  auto dir = TempDir::create("agent-channel-");
  CHECK(dir.ok());
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  CHECK(master.valid());
  CHECK_EQUAL(0, ::unlockpt(master.get()));
  std::string slavePath = ::ptsname(master.get());
  // Keep one slave fd open so the pty never hangs up, and make it a raw byte pipe.
  UniqueFd slave(::open(slavePath.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  CHECK(slave.valid());
  termios tio;
  CHECK_EQUAL(0, ::tcgetattr(slave.get(), &tio));
  ::cfmakeraw(&tio);
  CHECK_EQUAL(0, ::tcsetattr(slave.get(), TCSANOW, &tio));

  std::string sys = dir->path() + "/sys";
  std::string dev = dir->path() + "/dev";
  CHECK(mkdirAll(sys + "/vport0p0", 0755).ok());
  CHECK(mkdirAll(sys + "/vport3p1", 0755).ok());
  CHECK(mkdirAll(dev, 0755).ok());
  std::ofstream(sys + "/vport0p0/name") << "org.qemu.guest_agent.0\n";
  std::ofstream(sys + "/vport3p1/name") << "agent.channel.0\n";
  CHECK_EQUAL(0, ::symlink(slavePath.c_str(), (dev + "/vport3p1").c_str()));

  agent::Reaper reaper;
  CHECK(reaper.start().ok());
  agent::Sandbox sandbox(reaper, false);
  agent::AgentServer server(sandbox, {}, {});
  CHECK(server.start({}).ok());  // no listening socket: fds only, as in the guest
  {
    // The server moved gRPC's monotonic clock 5 s ahead (no 1 s start-up sleep in a young
    // guest); the calls below show deadlines still work with it.
    timespec mono{};
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    gpr_timespec grpcMono = gpr_now(GPR_CLOCK_MONOTONIC);
    const int64_t ahead = grpcMono.tv_sec - mono.tv_sec;
    CHECK_TEXT(ahead >= 4 && ahead <= 6, ("gRPC clock ahead by " + std::to_string(ahead)).c_str());
  }
  {
    int sv[2];
    CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
    server.addConnection(sv[0]);
    auto ch = ::grpc::CreateInsecureChannelFromFd("agent", sv[1]);
    auto stub = ::grpc::Health::NewStub(ch);
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ::grpc::CheckRequest req;
    ::grpc::HealthCheckResponse resp;
    auto st = stub->Check(&ctx, req, &resp);
    CHECK_TEXT(st.ok(), ("direct fd: " + st.error_message()).c_str());
  }
  agent::Channel channel([&](int fd) { server.addConnection(fd); });
  agent::ChannelOptions opts;
  opts.sysDir = sys;
  opts.devDir = dev;
  CHECK(channel.start(opts).ok());

  {
    ProxyLikeClient client(master.get());
    CHECK(client.healthy());
    CHECK(client.healthy());  // the same connection keeps working
  }
  // The client sent go-away and left: the agent must re-open the port for a new session.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (channel.sessions() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(channel.sessions() >= 2);
  // Drop whatever the old session still had in flight, then connect again.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::tcflush(master.get(), TCIOFLUSH);
  {
    ProxyLikeClient client(master.get());
    CHECK(client.healthy());
  }
  channel.stop();
  server.shutdown();
  reaper.stop();
}
