#include "runtime/virtcontainers/confinement.h"

#include <linux/capability.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "lib/seccomp_bpf.h"

namespace kata::vc {
namespace {

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452  // Linux 6.6; refused the same way where it exists
#endif

struct FilterCtx {
  scmp_filter_ctx ctx;
  ~FilterCtx() { seccomp_release(ctx); }
};

// Refuses `nr` with EPERM when its mode argument (index `arg`) has the setuid or the setgid
// bit.
Status refuseSetid(scmp_filter_ctx ctx, int nr, unsigned arg) {
  for (scmp_datum_t bit : {scmp_datum_t(S_ISUID), scmp_datum_t(S_ISGID)}) {
    scmp_arg_cmp cmp = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bit, bit);
    int rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp);
    if (rc != 0) return sysError("seccomp: rule for syscall " + std::to_string(nr), -rc);
  }
  return okStatus();
}

// Refuses mknod-style `nr` with EPERM for character and block devices (mode argument `arg`).
Status refuseDevices(scmp_filter_ctx ctx, int nr, unsigned arg) {
  for (scmp_datum_t type : {scmp_datum_t(S_IFCHR), scmp_datum_t(S_IFBLK)}) {
    scmp_arg_cmp cmp = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, scmp_datum_t(S_IFMT), type);
    int rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp);
    if (rc != 0) return sysError("seccomp: rule for syscall " + std::to_string(nr), -rc);
  }
  return okStatus();
}

}  // namespace

std::vector<int> guestFileServerDroppedCaps() { return {CAP_MKNOD, CAP_FSETID, CAP_SETFCAP}; }

std::string virtiofsdModcapsOption() { return "modcaps=-mknod:-fsetid:-setfcap"; }

Result<std::string> guestFileServerSeccomp() {
  FilterCtx f{seccomp_init(SCMP_ACT_ALLOW)};
  if (!f.ctx) return makeError("seccomp: cannot create a filter", ENOMEM);
  // (syscall, index of its mode argument)
  const std::pair<int, unsigned> modeArgs[] = {
      {__NR_chmod, 1},  {__NR_fchmod, 1}, {__NR_fchmodat, 2}, {__NR_fchmodat2, 2}, {__NR_open, 2},
      {__NR_openat, 3}, {__NR_creat, 1},  {__NR_mknod, 1},    {__NR_mknodat, 2}};
  for (const auto& [nr, arg] : modeArgs) KATA_TRY(refuseSetid(f.ctx, nr, arg));
  KATA_TRY(refuseDevices(f.ctx, __NR_mknod, 1));
  KATA_TRY(refuseDevices(f.ctx, __NR_mknodat, 2));
  for (int nr : {__NR_openat2, __NR_io_uring_setup}) {
    int rc = seccomp_rule_add_exact(f.ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    if (rc != 0) return sysError("seccomp: rule for syscall " + std::to_string(nr), -rc);
  }
  return exportBpf(f.ctx);
}

}  // namespace kata::vc
