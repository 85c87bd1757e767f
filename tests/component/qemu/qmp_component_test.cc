// kata::vc::Qmp against the real qemu-system-x86_64: a q35 machine held before its first
// instruction (-S), so no guest runs. A virtio-serial port (like the agent's channel) unplugs
// without the guest's help, so device_del completes with DEVICE_DELETED; a PCIe device needs
// the guest's pciehp driver to let go, and without a guest the unplug times out clearly.
#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "lib/child_process.h"
#include "lib/temp_dir.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/qmp.h"

#include <CppUTest/TestHarness.h>

namespace {

// The ids of the user-created devices QEMU has (qom-list /machine/peripheral).
std::vector<std::string> peripherals(kata::vc::Qmp& qmp) {
  Json::Value args(Json::objectValue);
  args["path"] = "/machine/peripheral";
  auto r = qmp.execute("qom-list", args);
  std::vector<std::string> ids;
  if (!r.ok() || !r->isArray()) return ids;
  for (const auto& p : *r)
    if (p["type"].isString() && p["type"].asString().rfind("child<", 0) == 0)
      ids.push_back(p["name"].asString());
  return ids;
}

bool hasDevice(kata::vc::Qmp& qmp, const std::string& id) {
  auto ids = peripherals(qmp);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

TEST_GROUP(QmpRealQemu){};

TEST(QmpRealQemu, HotplugUnplugEventsAndAnUnplugTheGuestNeverCompletes) {
  auto dir = kata::TempDir::create("qmp-qemu");
  CHECK_TRUE(dir.ok());
  const std::string sock = dir->path() + "/qmp.sock";
  kata::UniqueFd log(open((dir->path() + "/qemu.log").c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  kata::SpawnOptions opts;
  opts.argv = {"qemu-system-x86_64", "-machine", "q35,accel=tcg", "-S", "-m", "64M",
               "-nodefaults", "-no-user-config", "-display", "none",
               "-qmp", "unix:" + sock + ",server=on,wait=off",
               "-device", "pcie-root-port,id=rp0,chassis=1,bus=pcie.0",
               "-device", "virtio-serial-pci,id=serial0", "-chardev", "null,id=null0"};
  opts.stdoutFd = log.get();
  opts.stderrFd = log.get();
  auto qemu = kata::ChildProcess::spawn(opts);
  if (!qemu.ok()) FAIL(qemu.error().str().c_str());

  auto qmp = kata::vc::Qmp::connect(sock, 20000);
  if (!qmp.ok()) FAIL(qmp.error().str().c_str());
  auto state = qmp->runState();
  if (!state.ok()) FAIL(state.error().str().c_str());
  STRCMP_EQUAL("prelaunch", state->c_str());

  Json::Value port(Json::objectValue);
  port["bus"] = "serial0.0";
  port["chardev"] = "null0";
  port["name"] = "hot.port";
  auto added = qmp->deviceAdd("virtserialport", "port-hot", port);
  if (!added.ok()) FAIL(added.error().str().c_str());
  CHECK_TRUE(hasDevice(*qmp, "port-hot"));
  // QEMU's own errors come back as such: a duplicate id, an unknown device.
  auto again = qmp->deviceAdd("virtserialport", "port-hot", port);
  CHECK_FALSE(again.ok());
  CHECK_TRUE(again.error().str().find("port-hot") != std::string::npos);
  auto unknown = qmp->deviceDel("no-such-device", 2000);
  CHECK_FALSE(unknown.ok());
  CHECK_TRUE(unknown.error().str().find("no-such-device") != std::string::npos);

  auto removed = qmp->deviceDel("port-hot", 10000);
  if (!removed.ok()) FAIL(removed.error().str().c_str());
  CHECK_FALSE(hasDevice(*qmp, "port-hot"));
  added = qmp->deviceAdd("virtserialport", "port-hot", port);  // the id is free again
  if (!added.ok()) FAIL(added.error().str().c_str());

  // A PCIe device leaves only when the guest's hotplug driver releases it.
  Json::Value slot(Json::objectValue);
  slot["bus"] = "rp0";
  added = qmp->deviceAdd("virtio-rng-pci", "rng-hot", slot);
  if (!added.ok()) FAIL(added.error().str().c_str());
  auto stuck = qmp->deviceDel("rng-hot", 1000);
  CHECK_FALSE(stuck.ok());
  LONGS_EQUAL(ETIMEDOUT, stuck.error().code);
  CHECK_TRUE(stuck.error().str().find("the guest has not released the device") !=
             std::string::npos);
  CHECK_TRUE(hasDevice(*qmp, "rng-hot"));

  (void)qmp->execute("quit");
  auto status = qemu->wait();
  CHECK_TRUE(status.ok());
  LONGS_EQUAL(0, *status);
}
