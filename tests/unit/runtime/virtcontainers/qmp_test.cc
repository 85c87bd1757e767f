#include "runtime/virtcontainers/qmp.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "lib/temp_dir.h"
#include "lib/unique_fd.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(QmpParse){};

TEST(QmpParse, AcceptsObjectsOnly) {
  auto ok = kata::vc::parseQmpMessage("{\"return\": {}}");
  CHECK_TRUE(ok.ok());
  CHECK_TRUE(ok->isMember("return"));
  CHECK_FALSE(kata::vc::parseQmpMessage("[1,2]").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"return\": ").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{} trailing").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"a\":1,\"a\":2}").ok());
}

TEST(QmpParse, RejectsOversizeAndDeepNesting) {
  std::string huge(kata::vc::kQmpMaxMessage + 1, ' ');
  CHECK_FALSE(kata::vc::parseQmpMessage(huge).ok());
  std::string deep(1000, '[');
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"a\":" + deep).ok());
}

namespace {

// A scripted QMP peer on a unix socket: for each step it reads one command line, records it,
// and writes the step's reply lines (events and the reply) with optional pauses ("sleep:N").
struct FakeQmpStep {
  std::vector<std::string> out;
};

class FakeQmp {
 public:
  FakeQmp(const std::string& path, std::vector<FakeQmpStep> steps) : steps_(std::move(steps)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    listener_ = kata::UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_.get(), 1);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeQmp() { join(); }
  /// Waits until the client has closed the connection after the last step.
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> received;  // the command lines, in order

 private:
  void send(int fd, const std::string& line) {
    std::string l = line + "\r\n";
    (void)!write(fd, l.data(), l.size());
  }
  std::string readLine(int fd) {
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  void serve() {
    kata::UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    send(conn.get(), R"({"QMP": {"version": {}, "capabilities": []}})");
    for (const auto& step : steps_) {
      received.push_back(readLine(conn.get()));
      for (const auto& line : step.out) {
        if (line.rfind("sleep:", 0) == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(line.substr(6))));
        } else {
          send(conn.get(), line);
        }
      }
    }
    readLine(conn.get());  // until the client closes
  }
  std::vector<FakeQmpStep> steps_;
  kata::UniqueFd listener_;
  std::thread thread_;
};

}  // namespace

TEST_GROUP(QmpHotplug){};

TEST(QmpHotplug, DeviceDelWaitsForItsOwnDeletedEventWhereverItArrives) {
  auto dir = kata::TempDir::create("qmp");
  CHECK_TRUE(dir.ok());
  const std::string sock = dir->path() + "/qmp.sock";
  const char* ok = R"({"return": {}})";
  std::unique_ptr<FakeQmp> peer(new FakeQmp(
      sock,
      {
          {{ok}},  // qmp_capabilities
          // The event comes before the reply (and a child device's event without "device").
          {{R"({"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/net1/virtio-backend"}})",
            R"({"event": "DEVICE_DELETED", "data": {"device": "net1", "path": "/machine/peripheral/net1"}})",
            ok}},
          // The event comes later, after an unrelated one.
          {{ok, "sleep:100", R"({"event": "RESUME"})",
            R"({"event": "DEVICE_DELETED", "data": {"device": "blk2", "path": "/machine/peripheral/blk2"}})"}},
          // The guest never releases the device.
          {{ok}},
          {{R"({"error": {"class": "GenericError", "desc": "Duplicate device ID 'net3'"}})"}},
          {{R"({"return": {"status": "running", "running": true}})"}},
      }));
  {
    auto qmp = kata::vc::Qmp::connect(sock, 2000);
    if (!qmp.ok()) FAIL(qmp.error().str().c_str());
    auto del = qmp->deviceDel("net1", 2000);
    if (!del.ok()) FAIL(del.error().str().c_str());
    del = qmp->deviceDel("blk2", 2000);
    if (!del.ok()) FAIL(del.error().str().c_str());
    del = qmp->deviceDel("stuck", 300);
    CHECK_FALSE(del.ok());
    LONGS_EQUAL(ETIMEDOUT, del.error().code);
    CHECK_TRUE(del.error().str().find("unplug stuck (the guest has not released the device)") !=
               std::string::npos);
    Json::Value props(Json::objectValue);
    props["bus"] = "pci-bridge-0";
    props["addr"] = "0x3";
    auto add = qmp->deviceAdd("virtio-net-pci", "net3", props);
    CHECK_FALSE(add.ok());
    CHECK_TRUE(add.error().str().find("Duplicate device ID 'net3'") != std::string::npos);
    auto state = qmp->runState();
    if (!state.ok()) FAIL(state.error().str().c_str());
    STRCMP_EQUAL("running", state->c_str());
  }
  peer->join();
  const std::vector<std::string>& r = peer->received;
  LONGS_EQUAL(6, r.size());
  auto has = [](const std::string& line, const char* part) {
    return line.find(part) != std::string::npos;
  };
  CHECK_TRUE(has(r[0], R"("execute":"qmp_capabilities")"));
  CHECK_TRUE(has(r[1], R"("execute":"device_del")") && has(r[1], R"("id":"net1")"));
  CHECK_TRUE(has(r[3], R"("id":"stuck")"));
  CHECK_TRUE(has(r[4], R"("execute":"device_add")") && has(r[4], R"("driver":"virtio-net-pci")") &&
             has(r[4], R"("id":"net3")") && has(r[4], R"("bus":"pci-bridge-0")") &&
             has(r[4], R"("addr":"0x3")"));
  CHECK_TRUE(has(r[5], R"("execute":"query-status")"));
}
