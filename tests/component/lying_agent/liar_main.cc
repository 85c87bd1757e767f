// The lying-agent suite's entry point: a private mount namespace (what the runtime under test
// mounts in a sandbox's share dies with this process), and one scratch directory for every
// test's state (KATA_VC_RUN_DIR, --root, configuration, sockets).
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>
#include <CppUTest/TestRegistry.h>
#include <grpc/grpc.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "lib/fs_util.h"
#include "lib/mount.h"
#include "lib/temp_dir.h"

namespace kata::liar {
std::string gSuiteDir;
}

int main(int argc, char** argv) {
  // Before any thread exists (unshare(CLONE_NEWNS) needs a single-threaded process).
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    std::fprintf(stderr, "lying agent suite: a private mount namespace (needs root): %s\n",
                 std::strerror(errno));
    return 1;
  }
  auto dir = kata::TempDir::create("liar-");
  if (!dir.ok()) {
    std::fprintf(stderr, "lying agent suite: %s\n", dir.error().str().c_str());
    return 1;
  }
  kata::liar::gSuiteDir = dir->path();
  ::setenv("KATA_VC_RUN_DIR", (dir->path() + "/run").c_str(), 1);
  const std::string config =
      "[hypervisor.qemu]\npath = \"/bin/false\"\nkernel = \"/dev/null\"\n"
      "image = \"/dev/null\"\n[shim.kata]\npath = \"" KATA_SHIM_BIN "\"\n";
  if (auto st = kata::writeFileAtomic(dir->path() + "/configuration.toml", config, 0600);
      !st.ok() || !kata::mkdirAll(dir->path() + "/bundle", 0700).ok()) {
    std::fprintf(stderr, "lying agent suite: cannot write its configuration\n");
    return 1;
  }
  // gRPC stays initialised between tests: its library-wide shutdown, when a test's last server
  // goes, can wait 10 s for its executor's poll.
  grpc_init();
  // No leak checker: protobuf and gRPC keep process-wide caches it would report, and its table
  // broke (a crash in its post-test check) once gRPC calls failed in this process, where ASan
  // and valgrind find nothing. The asan build hunts leaks instead.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  CommandLineTestRunner runner(argc, argv, TestRegistry::getCurrentRegistry());
  int failed = runner.runAllTestsMain();
  // The runtime made the share's sandboxes directory a mount point: gone, the directory can go.
  (void)kata::mount::detachAll(dir->path() + "/run/kata-containers/shared/sandboxes");
  return failed;
}
