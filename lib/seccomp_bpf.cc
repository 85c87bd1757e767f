#include "lib/seccomp_bpf.h"

#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/unique_fd.h"

namespace kata {

Result<std::string> exportBpf(scmp_filter_ctx ctx) {
  UniqueFd mem(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
  if (!mem) return sysError("memfd_create");
  int rc = seccomp_export_bpf(ctx, mem.get());
  if (rc != 0) return sysError("seccomp: export BPF", -rc);
  std::string bpf;
  ::lseek(mem.get(), 0, SEEK_SET);
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(mem.get(), buf, sizeof buf);
    if (n < 0) return sysError("read seccomp BPF");
    if (n == 0) break;
    bpf.append(buf, static_cast<size_t>(n));
  }
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
    return makeError("seccomp: exported program has a bad size");
  }
  return bpf;
}

bool installBpf(const std::string& bpf) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  // Confines the calling thread and everything it execs, for good.
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace kata
