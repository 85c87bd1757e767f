#include "runtime/virtcontainers/qemu.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/page_out.h"
#include "lib/parse.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/confinement.h"
#include "runtime/virtcontainers/qmp.h"

namespace kata::vc {
namespace {

// Upstream Kata's default guest parameters for x86 QEMU: skip slow or useless probing (i8042,
// timer checks, crypto self tests) and keep the guest quiet and quick to panic-exit.
constexpr const char* kUpstreamKernelParams =
    "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 "
    "i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k iommu=off cryptomgr.notests "
    "net.ifnames=0 pci=lastbus=0";

// Ours on top, when the guest has ACPI: none for PCI interrupt routing. Evaluating the PCI
// link objects in ACPI bytecode took 0.25 s per virtio device under TCG; virtio devices use
// MSI-X, and INTx falls back to the firmware's routing table.
constexpr const char* kAcpiKernelParams = "acpi=noirq";
// Without ACPI tables: the kernel does not look for them (and does not log their absence as
// a firmware bug); the CPUs come from the firmware's MP table.
constexpr const char* kNoAcpiKernelParams = "acpi=off";

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

int imageSizeMiB(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return int((st.st_size + (1 << 20) - 1) >> 20);
}

}  // namespace

std::string kernelCommandLine(const VmConfig& c) {
  std::vector<std::string> p = {kUpstreamKernelParams,
                                c.acpi ? kAcpiKernelParams : kNoAcpiKernelParams};
  if (c.guestTscKhz > 0) p.push_back("tsc_early_khz=" + std::to_string(c.guestTscKhz));
  p.push_back("console=" + c.guestConsole);
  p.push_back("panic=1");
  p.push_back("nr_cpus=" + std::to_string(std::max(c.vcpus, c.maxVcpus)));
  p.push_back(c.debug ? "agent.log=debug" : "quiet");
  p.push_back("agent.use_vsock=false");
  if (!c.imagePath.empty()) {
    const bool pmem = c.imageOnPmem;
    // osbuilder's image is partitioned; on pmem the first partition is DAX-capable.
    p.push_back(pmem ? "root=/dev/pmem0p1 rootflags=dax,errors=remount-ro"
                     : "root=/dev/vda1 rootflags=errors=remount-ro");
    p.push_back("ro rootfstype=ext4 init=/sbin/init");
  }
  p.push_back(c.kernelParams);
  return join(p, " ");
}

// The guest's RAM as an explicit backend. Not QEMU's default anonymous memory: QEMU asks for
// transparent huge pages there, so every 4 KiB the guest touches costs the host 2 MiB (an idle
// guest's 30 MB became 52 MB). A memfd is shared memory, which the host does not back with
// huge pages unless its shmem THP setting says so; upstream Kata's shared-memory backend for
// virtio-fs behaves the same. enable_hugepages: hugetlbfs pages (file_mem_backend names the
// mount, default /dev/hugepages), allocated up front; file_mem_backend alone: that file or dir.
std::string guestRamBackend(const VmConfig& c) {
  std::string size = ",size=" + std::to_string(c.memoryMiB) + "M";
  const bool prealloc = c.memPrealloc || c.hugepages;
  std::string backend = "memory-backend-memfd,id=ram0";
  if (c.hugepages || !c.memFile.empty()) {
    backend = "memory-backend-file,id=ram0,mem-path=" +
              (c.memFile.empty() ? std::string("/dev/hugepages") : c.memFile);
  }
  return backend + ",share=on" + (prealloc ? ",prealloc=on" : "") + size;
}

std::vector<std::string> qemuArgv(const std::string& id, const VmConfig& c, const VmPaths& paths,
                                  const std::string& sharedDir) {
  std::vector<std::string> a = {c.qemuPath};
  auto add = [&a](std::initializer_list<std::string> items) {
    a.insert(a.end(), items.begin(), items.end());
  };
  add({"-name", "sandbox-" + id + ",debug-threads=on"});
  std::string machine = c.machineType;
  const bool pmemImage = !c.imagePath.empty() && c.imageOnPmem;
  if (!c.acpi) machine += ",acpi=off";
  if (pmemImage && c.acpi) machine += ",nvdimm=on";
  machine += ",memory-backend=ram0";
  if (!c.machineAccelerators.empty()) machine += "," + c.machineAccelerators;
  add({"-machine", machine});
  if (c.accelerator == "kvm") {
    add({"-accel", "kvm", "-cpu", c.cpuFeatures.empty() ? "host" : "host," + c.cpuFeatures});
  } else {
    add({"-accel", "tcg,tb-size=" + std::to_string(c.tcgCacheMiB)});
    // Without ERMS the guest's kernel and libc copy memory with plain moves instead of
    // `rep movsb`, which TCG runs one byte per step: pipe and stdout throughput doubles.
    add({"-cpu", c.cpuFeatures.empty() ? "max,-erms" : "max,-erms," + c.cpuFeatures});
  }
  std::string mem = std::to_string(c.memoryMiB) + "M";
  if (c.maxMemoryMiB > c.memoryMiB || pmemImage) {
    int maxMem = std::max(c.maxMemoryMiB, c.memoryMiB);
    if (pmemImage) maxMem += imageSizeMiB(c.imagePath);  // room for the image's device
    mem += ",slots=" + std::to_string(c.memorySlots) + ",maxmem=" + std::to_string(maxMem) + "M";
  }
  add({"-m", mem});
  add({"-object", guestRamBackend(c)});
  const int maxCpus = std::max(c.vcpus, c.maxVcpus);
  add({"-smp", std::to_string(c.vcpus) + ",cores=1,threads=1,sockets=" + std::to_string(maxCpus) +
                   ",maxcpus=" + std::to_string(maxCpus)});
  add({"-qmp", "unix:" + paths.qmpSocket() + ",server=on,wait=off"});
  // kata-proxy reads the console and keeps console.log under a cap. Not QEMU's logfile=: it
  // grows without bound on /run, as fast as the guest prints.
  add({"-chardev", "socket,id=charconsole0,path=" + paths.consoleSocket() + ",server=on,wait=off"});
  add({"-device", "virtio-serial-pci,id=serial0"});
  if (c.guestConsole == "hvc0") {
    add({"-device", "virtconsole,chardev=charconsole0,id=console0"});
  } else {
    add({"-serial", "chardev:charconsole0"});
  }
  add({"-chardev", "socket,id=charch0,path=" + paths.agentSocket() + ",server=on,wait=off"});
  add({"-device",
       std::string("virtserialport,chardev=charch0,id=channel0,name=") + kAgentPortName});
  if (c.sharedFs == "virtio-9p") {
    add({"-fsdev", std::string("local,id=extra-9p-") + kShareMountTag + ",path=" + sharedDir +
                       ",security_model=none,multidevs=remap"});
    add({"-device", std::string("virtio-9p-pci,fsdev=extra-9p-") + kShareMountTag +
                        ",mount_tag=" + kShareMountTag});
  } else {
    // virtio-fs: virtiofsd serves sharedDir over vhost-user and reaches the guest's RAM
    // directly, which is why guestRamBackend() always shares it.
    add({"-chardev", "socket,id=char-virtiofs,path=" + paths.virtiofsSocket()});
    std::string dev = std::string("vhost-user-fs-pci,chardev=char-virtiofs,tag=") + kShareMountTag +
                      ",queue-size=1024";
    if (c.virtiofsCacheSizeMiB > 0)
      dev += ",cache-size=" + std::to_string(c.virtiofsCacheSizeMiB) + "M";
    add({"-device", dev});
  }
  for (size_t i = 0; i < c.nicMacs.size(); ++i) {
    const std::string id = "network-" + std::to_string(i);
    add({"-netdev", "tap,id=" + id + ",fd=" + std::to_string(kFirstTapFd + int(i))});
    add({"-device", "virtio-net-pci,netdev=" + id + ",mac=" + c.nicMacs[i]});
  }
  add({"-object", "rng-random,id=rng0,filename=" + c.entropySource});
  add({"-device", "virtio-rng-pci,rng=rng0"});
  add({"-kernel", c.kernelPath});
  if (!c.initrdPath.empty()) add({"-initrd", c.initrdPath});
  if (!c.imagePath.empty()) {
    if (pmemImage) {
      // A read-only backend must be exactly the file's size.
      struct stat st;
      const long long size = stat(c.imagePath.c_str(), &st) == 0 ? st.st_size : 0;
      add({"-object", "memory-backend-file,id=mem0,mem-path=" + c.imagePath +
                          ",size=" + std::to_string(size) + ",readonly=on"});
      // The guest finds an nvdimm through ACPI (NFIT); virtio-pmem needs no tables. Both
      // are /dev/pmem0 with DAX in the guest.
      const char* device =
          c.acpi ? "nvdimm,id=nv0,memdev=mem0,unarmed=on" : "virtio-pmem-pci,id=nv0,memdev=mem0";
      add({"-device", device});
    } else {
      add({"-drive", "file=" + c.imagePath + ",if=none,id=image0,format=raw,readonly=on"});
      add({"-device", "virtio-blk-pci,drive=image0"});
    }
  }
  add({"-append", kernelCommandLine(c)});
  if (!c.firmware.empty()) add({"-bios", c.firmware});
  add({"-nographic", "-vga", "none", "-no-user-config", "-nodefaults", "-no-reboot"});
  add({"-daemonize", "-pidfile", paths.pidFile()});
  return a;
}

namespace {

std::string lastLines(const std::string& content, size_t maxLines) {
  std::vector<std::string> lines;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    lines.push_back(line);
    if (lines.size() > maxLines) lines.erase(lines.begin());
  }
  return join(lines, "\n");
}

}  // namespace

std::string tailOfFile(const std::string& path, size_t maxLines) {
  // Only the end of the file is read: a log may be large (console.log and proxy.log are
  // capped, but not small).
  constexpr off_t kWindow = 64 << 10;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return "";
  off_t start = st.st_size > kWindow ? st.st_size - kWindow : 0;
  std::string content(size_t(st.st_size - start), '\0');
  ssize_t n = ::pread(fd.get(), content.data(), content.size(), start);
  if (n <= 0) return "";
  content.resize(size_t(n));
  // A partial first line (cut by the window) is not shown.
  if (start > 0) content.erase(0, std::min(content.size(), content.find('\n') + 1));
  return lastLines(content, maxLines);
}

std::string tailOfPipe(int fd, size_t maxLines) {
  std::string content(64 << 10, '\0');
  ssize_t n = fd < 0 ? -1 : ::read(fd, content.data(), content.size());
  if (n <= 0) return "";
  content.resize(size_t(n));
  return lastLines(content, maxLines);
}

namespace {

Result<pid_t> readPidFile(const VmPaths& paths) {
  KATA_ASSIGN_OR_RETURN(std::string pidText, readFile(paths.pidFile(), 64));
  while (!pidText.empty() && (pidText.back() == '\n' || pidText.back() == ' ')) pidText.pop_back();
  auto pid = parseInt<pid_t>(pidText, "QEMU pid file " + paths.pidFile());
  if (!pid.ok() || *pid <= 1)
    return makeError("QEMU pid file " + paths.pidFile() + " holds no pid", EINVAL);
  return *pid;
}

}  // namespace

Result<pid_t> startQemu(const std::string& id, const VmConfig& c, const VmPaths& paths,
                        const std::string& sharedDir, const std::vector<int>& tapFds) {
  if (tapFds.size() != c.nicMacs.size())
    return makeError("QEMU: " + std::to_string(c.nicMacs.size()) + " NICs but " +
                         std::to_string(tapFds.size()) + " taps",
                     EINVAL);
  UniqueFd log(open(paths.qemuLog().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) return sysError("create " + paths.qemuLog());
  SpawnOptions opts;
  opts.argv = qemuArgv(id, c, paths, sharedDir);
  opts.stdoutFd = log.get();
  opts.stderrFd = log.get();
  opts.setsid = true;  // QEMU must not die with the terminal of the command that started it
  // QEMU serves the guest's 9p requests on host files (confinement.h).
  opts.dropBoundingCaps = guestFileServerDroppedCaps();
  KATA_ASSIGN_OR_RETURN(opts.seccompBpf, guestFileServerSeccomp());
  for (size_t i = 0; i < tapFds.size(); ++i)
    opts.extraFds.push_back({tapFds[i], kFirstTapFd + int(i)});
  KATA_ASSIGN_OR_RETURN(ChildProcess parent, ChildProcess::spawn(opts));
  // With -daemonize the first process exits once the VM is initialised: 0 on success.
  KATA_ASSIGN_OR_RETURN(int status, parent.wait());
  if (status != 0) {
    std::string tail = tailOfFile(paths.qemuLog(), 3);
    for (char& ch : tail)
      if (ch == '\n') ch = ' ';
    return makeError("QEMU failed to start (exit " + std::to_string(status) + "): " + tail);
  }
  return readPidFile(paths);
}

ProcessRef qemuOfPidFile(const std::string& id, const VmPaths& paths) {
  auto pid = readPidFile(paths);
  if (!pid.ok()) return {};
  auto cmdline = readFile("/proc/" + std::to_string(*pid) + "/cmdline", 1 << 20);
  const std::string name = std::string("-name") + '\0' + "sandbox-" + id + ",";
  if (!cmdline.ok() || cmdline->find(name) == std::string::npos) return {};
  auto ref = ProcessRef::of(*pid);
  return ref.ok() ? *ref : ProcessRef{};
}

Result<Virtiofsd> startVirtiofsd(const VmConfig& c, const VmPaths& paths,
                                 const std::string& sharedDir) {
  const std::string sock = paths.virtiofsSocket();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock.size() >= sizeof addr.sun_path)
    return makeError("socket path too long: " + sock, ENAMETOOLONG);
  sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return sysError("virtiofsd socket");
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("bind " + sock);
  if (::chmod(sock.c_str(), 0600) != 0) return sysError("chmod " + sock);
  if (::listen(listener.get(), 1) != 0) return sysError("listen " + sock);

  int logPipe[2];
  if (::pipe2(logPipe, O_CLOEXEC | O_NONBLOCK) != 0) return sysError("virtiofsd log pipe");
  Virtiofsd started;
  started.log.reset(logPipe[0]);
  UniqueFd logWrite(logPipe[1]);  // closed once virtiofsd has it: its exit is the pipe's EOF
  SpawnOptions opts;
  // The socket is ours until QEMU connects; once this process drops its copy, a virtiofsd
  // that died at start leaves QEMU a refused connection, not a hang.
  opts.argv = {c.virtiofsDaemon,
               "--fd=3",
               "-o",
               "source=" + sharedDir,
               "-o",
               "cache=" + c.virtiofsCache,
               "-o",
               "sandbox=namespace"};
  opts.argv.insert(opts.argv.end(), c.virtiofsExtraArgs.begin(), c.virtiofsExtraArgs.end());
  // After the extra arguments, so that they cannot give the capabilities back (confinement.h).
  opts.argv.insert(opts.argv.end(), {"-o", virtiofsdModcapsOption()});
  KATA_ASSIGN_OR_RETURN(opts.seccompBpf, guestFileServerSeccomp());
  opts.extraFds = {{listener.get(), 3}};
  opts.stderrFd = logWrite.get();
  opts.setsid = true;
  KATA_ASSIGN_OR_RETURN(started.pid, ChildProcess::spawnDetached(opts));
  return started;
}

void releaseBootFilePages(const ProcessRef& qemu, const std::string& kernel,
                          const std::string& image) {
  auto pidfd = qemu.openPidfd();
  if (!pidfd.ok() || !pidfd->valid()) return;
  // QEMU's own code: most of what is resident set the machine up and will not run again.
  const std::string binary = "/proc/" + std::to_string(qemu.pid) + "/exe";
  for (const auto& f : {kernel, image, binary}) {
    if (f.empty()) continue;
    auto advised = pageOutFileMappings(pidfd->get(), qemu.pid, f);
    if (advised.ok())
      log::debug("paged out QEMU's boot file pages",
                 {{"file", f}, {"mapped", std::to_string(*advised)}});
    else
      log::debug("cannot page out QEMU's boot file pages: " + advised.error().str(), {{"file", f}});
  }
}

Status stopQemu(const ProcessRef& qemu, const VmPaths& paths, int graceMs) {
  if (!qemu.alive()) return okStatus();
  auto qmp = Qmp::connect(paths.qmpSocket(), 500);
  if (qmp.ok()) (void)qmp->execute("quit", Json::Value(Json::nullValue), 1000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  while (qemu.alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return qemu.killAndWait();
}

}  // namespace kata::vc
