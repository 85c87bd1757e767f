#include "runtime/virtcontainers/qemu.h"

#include <algorithm>
#include <fstream>

#include <CppUTest/TestHarness.h>

#include "lib/temp_dir.h"

using kata::vc::VmConfig;
using kata::vc::VmPaths;

namespace {

bool hasPair(const std::vector<std::string>& argv, const std::string& flag,
             const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); i++)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

bool contains(const std::vector<std::string>& argv, const std::string& item) {
  return std::find(argv.begin(), argv.end(), item) != argv.end();
}

VmConfig baseConfig() {
  VmConfig c;
  c.kernelPath = "/k";
  c.initrdPath = "/i";
  return c;
}

}  // namespace

TEST_GROUP(QemuArgv){};

TEST(QemuArgv, TcgWithBoundedTranslationCacheAndAgentPort) {
  VmConfig c = baseConfig();
  c.tcgCacheMiB = 16;
  auto argv = kata::vc::qemuArgv("sb1", c, VmPaths{"/run/vc/vm/sb1"}, "/share");
  STRCMP_EQUAL("/usr/bin/qemu-system-x86_64", argv[0].c_str());
  CHECK_TRUE(hasPair(argv, "-accel", "tcg,tb-size=16"));
  CHECK_TRUE(hasPair(argv, "-cpu", "max,-erms"));
  CHECK_TRUE(hasPair(argv, "-machine", "pc,acpi=off,memory-backend=ram0"));
  CHECK_TRUE(hasPair(argv, "-object", "memory-backend-memfd,id=ram0,share=on,size=512M"));
  CHECK_TRUE(hasPair(argv, "-device", "virtserialport,chardev=charch0,id=channel0,name=agent.channel.0"));
  CHECK_TRUE(hasPair(argv, "-chardev",
                     "socket,id=charch0,path=/run/vc/vm/sb1/kata.sock,server=on,wait=off"));
  CHECK_TRUE(hasPair(argv, "-fsdev",
                     "local,id=extra-9p-kataShared,path=/share,security_model=none,multidevs=remap"));
  CHECK_TRUE(hasPair(argv, "-device", "virtio-9p-pci,fsdev=extra-9p-kataShared,mount_tag=kataShared"));
  CHECK_TRUE(hasPair(argv, "-initrd", "/i"));
  CHECK_TRUE(hasPair(argv, "-pidfile", "/run/vc/vm/sb1/pid"));
  CHECK_TRUE(hasPair(argv, "-serial", "chardev:charconsole0"));
  CHECK_TRUE(contains(argv, "-daemonize"));
  CHECK_TRUE(contains(argv, "-no-reboot"));
}

TEST(QemuArgv, KvmUsesHostCpuAndHvcConsole) {
  VmConfig c = baseConfig();
  c.accelerator = "kvm";
  c.guestConsole = "hvc0";
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-accel", "kvm"));
  CHECK_TRUE(hasPair(argv, "-cpu", "host"));
  CHECK_TRUE(hasPair(argv, "-device", "virtconsole,chardev=charconsole0,id=console0"));
  CHECK_FALSE(contains(argv, "-serial"));
}

TEST(QemuArgv, VirtioFsReplaces9pWithVhostUserFs) {
  VmConfig c = baseConfig();
  c.sharedFs = "virtio-fs";
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-chardev", "socket,id=char-virtiofs,path=/d/vhost-fs.sock"));
  CHECK_TRUE(hasPair(argv, "-device",
                     "vhost-user-fs-pci,chardev=char-virtiofs,tag=kataShared,queue-size=1024"));
  CHECK_FALSE(contains(argv, "-fsdev"));
  // vhost-user reaches guest RAM directly: the backend must be shared.
  CHECK_TRUE(hasPair(argv, "-object", "memory-backend-memfd,id=ram0,share=on,size=512M"));
  c.virtiofsCacheSizeMiB = 256;
  argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-device",
                     "vhost-user-fs-pci,chardev=char-virtiofs,tag=kataShared,queue-size=1024,"
                     "cache-size=256M"));
}

TEST(QemuArgv, ImageRootOnVirtioPmemWithoutAcpi) {
  VmConfig c = baseConfig();
  c.initrdPath.clear();
  c.imagePath = "/img";
  c.guestTscKhz = 2445430;
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-machine", "pc,acpi=off,memory-backend=ram0"));
  CHECK_TRUE(hasPair(argv, "-device", "virtio-pmem-pci,id=nv0,memdev=mem0"));
  CHECK_FALSE(hasPair(argv, "-device", "nvdimm,id=nv0,memdev=mem0,unarmed=on"));
  std::string cmdline = kata::vc::kernelCommandLine(c);
  CHECK_TRUE(cmdline.find("root=/dev/pmem0p1 rootflags=dax") != std::string::npos);
  CHECK_TRUE(cmdline.find(" acpi=off ") != std::string::npos);
  CHECK_TRUE(cmdline.find("acpi=noirq") == std::string::npos);
  CHECK_TRUE(cmdline.find(" tsc_early_khz=2445430 ") != std::string::npos);
}

TEST(QemuArgv, NvdimmImageRootWithAcpi) {
  VmConfig c = baseConfig();
  c.initrdPath.clear();
  c.imagePath = "/img";
  c.acpi = true;  // enable_acpi
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-machine", "pc,nvdimm=on,memory-backend=ram0"));
  CHECK_TRUE(hasPair(argv, "-device", "nvdimm,id=nv0,memdev=mem0,unarmed=on"));
  CHECK_FALSE(contains(argv, "-initrd"));
  std::string cmdline = kata::vc::kernelCommandLine(c);
  CHECK_TRUE(cmdline.find("root=/dev/pmem0p1 rootflags=dax") != std::string::npos);
  CHECK_TRUE(cmdline.find(" acpi=noirq ") != std::string::npos);
  CHECK_TRUE(cmdline.find("acpi=off") == std::string::npos);
  CHECK_TRUE(cmdline.find("tsc_early_khz") == std::string::npos);

  c.imageOnPmem = false;  // disable_image_nvdimm: a read-only virtio-blk disk instead
  argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-machine", "pc,memory-backend=ram0"));
  CHECK_TRUE(hasPair(argv, "-device", "virtio-blk-pci,drive=image0"));
  CHECK_FALSE(hasPair(argv, "-device", "nvdimm,id=nv0,memdev=mem0,unarmed=on"));
  CHECK_TRUE(kata::vc::kernelCommandLine(c).find("root=/dev/vda1") != std::string::npos);
}

TEST(QemuArgv, GuestRamBackendFollowsPreallocAndHugepages) {
  VmConfig c = baseConfig();
  c.memoryMiB = 512;
  c.memPrealloc = true;
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(
      hasPair(argv, "-object", "memory-backend-memfd,id=ram0,share=on,prealloc=on,size=512M"));
  CHECK_FALSE(contains(argv, "-mem-prealloc"));  // the backend preallocates itself
  c.memPrealloc = false;
  c.memFile = "/dev/shm";  // file_mem_backend
  argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-object",
                     "memory-backend-file,id=ram0,mem-path=/dev/shm,share=on,size=512M"));
  c.memFile.clear();
  c.hugepages = true;
  argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-object",
                     "memory-backend-file,id=ram0,mem-path=/dev/hugepages,share=on,prealloc=on,"
                     "size=512M"));
}

TEST(QemuArgv, KernelCommandLineOrder) {
  VmConfig c = baseConfig();
  c.vcpus = 2;
  c.maxVcpus = 4;
  c.kernelParams = "extra=1";
  std::string cmdline = kata::vc::kernelCommandLine(c);
  CHECK_TRUE(cmdline.find("console=ttyS0") != std::string::npos);
  CHECK_TRUE(cmdline.find("nr_cpus=4") != std::string::npos);
  CHECK_TRUE(cmdline.find("quiet") != std::string::npos);
  // Configured parameters come last so that they override ours.
  CHECK_TRUE(cmdline.size() >= 7 && cmdline.compare(cmdline.size() - 7, 7, "extra=1") == 0);
  c.debug = true;
  CHECK_TRUE(kata::vc::kernelCommandLine(c).find("agent.log=debug") != std::string::npos);
}

TEST_GROUP(TailOfFile){};

TEST(TailOfFile, LastLinesOfALargeLogWithoutBlankOrCutLines) {
  auto dir = kata::TempDir::create("tail-test");
  CHECK_TRUE(dir.ok());
  std::string path = dir->path() + "/console.log";
  {
    std::ofstream out(path);
    for (int i = 0; i < 200000; i++) out << "boot line " << i << "\r\n";  // about 3.5 MB
    out << "\nKernel panic - not syncing: no init\n\n";
  }
  STRCMP_EQUAL("boot line 199998\nboot line 199999\nKernel panic - not syncing: no init",
               kata::vc::tailOfFile(path, 3).c_str());
  STRCMP_EQUAL("", kata::vc::tailOfFile(dir->path() + "/missing.log", 3).c_str());
  std::ofstream(dir->path() + "/short.log") << "only line";
  STRCMP_EQUAL("only line", kata::vc::tailOfFile(dir->path() + "/short.log", 3).c_str());
}

TEST(QemuArgv, OneVirtioNetNicPerTapFd) {
  VmConfig c = baseConfig();
  c.nicMacs = {"02:42:0a:00:00:02", "02:42:0a:00:01:02"};
  auto argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_TRUE(hasPair(argv, "-netdev", "tap,id=network-0,fd=3"));
  CHECK_TRUE(hasPair(argv, "-device", "virtio-net-pci,netdev=network-0,mac=02:42:0a:00:00:02"));
  CHECK_TRUE(hasPair(argv, "-netdev", "tap,id=network-1,fd=4"));
  CHECK_TRUE(hasPair(argv, "-device", "virtio-net-pci,netdev=network-1,mac=02:42:0a:00:01:02"));
  // Without taps there is no NIC at all (QEMU's default user-mode NIC is never added).
  c.nicMacs.clear();
  argv = kata::vc::qemuArgv("x", c, VmPaths{"/d"}, "/s");
  CHECK_FALSE(contains(argv, "-netdev"));
}

TEST(QemuArgv, StartRefusesNicsWithoutTheirTaps) {
  auto dir = kata::TempDir::create("qemu-start");
  CHECK_TRUE(dir.ok());
  VmConfig c = baseConfig();
  c.nicMacs = {"02:42:0a:00:00:02"};
  auto started = kata::vc::startQemu("x", c, VmPaths{dir->path()}, "/s", {});
  CHECK_FALSE(started.ok());
  CHECK_TRUE(started.error().message.find("1 NICs but 0 taps") != std::string::npos);
}
