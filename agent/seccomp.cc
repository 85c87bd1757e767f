#include "agent/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "lib/seccomp_bpf.h"
#include "protocols/oci.pb.h"

namespace kata::agent {

namespace {

/// `errnoRet` (when set) is what SCMP_ACT_ERRNO and SCMP_ACT_TRACE return; other actions have
/// no return value and ignore it, as runc does.
Result<uint32_t> parseAction(const std::string& name, std::optional<uint32_t> errnoRet) {
  if (errnoRet && *errnoRet > 0xffff) {
    return makeError("seccomp: errnoRet " + std::to_string(*errnoRet) + " is out of range", EINVAL);
  }
  uint32_t ret = errnoRet.value_or(EPERM);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return makeError("seccomp: unknown action \"" + name.substr(0, 64) + "\"", EINVAL);
}

Result<scmp_compare> parseOp(const std::string& name) {
  static const std::map<std::string, scmp_compare> ops = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  auto it = ops.find(name);
  if (it == ops.end()) {
    return makeError("seccomp: unknown operator \"" + name.substr(0, 64) + "\"", EINVAL);
  }
  return it->second;
}

Result<uint32_t> parseArch(const std::string& name) {
  std::string arch = name;
  if (arch.rfind("SCMP_ARCH_", 0) == 0) arch = arch.substr(10);
  std::transform(arch.begin(), arch.end(), arch.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  uint32_t token = seccomp_arch_resolve_name(arch.c_str());
  if (token == 0) return makeError("seccomp: unknown architecture \"" + name.substr(0, 64) + "\"");
  return token;
}

Result<unsigned> parseFlag(const std::string& name) {
  static const std::map<std::string, unsigned> flags = {
      {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
      {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
      {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW}};
  auto it = flags.find(name);
  if (it == flags.end()) {
    return makeError("seccomp: unknown flag \"" + name.substr(0, 64) + "\"", EINVAL);
  }
  return it->second;
}

std::optional<uint32_t> presentErrno(bool present, uint32_t value) {
  return present ? std::optional<uint32_t>(value) : std::nullopt;
}

struct Ctx {
  scmp_filter_ctx ctx;
  ~Ctx() { seccomp_release(ctx); }
};

}  // namespace

Result<SeccompProgram> compileSeccomp(const grpc::LinuxSeccomp& profile,
                                      std::vector<std::string>* skipped) {
  SeccompProgram program;
  for (const auto& f : profile.flags()) {
    KATA_ASSIGN_OR_RETURN(unsigned flag, parseFlag(f));
    program.flags |= flag;
  }
  KATA_ASSIGN_OR_RETURN(
      uint32_t defaultAction,
      parseAction(profile.defaultaction(),
                  presentErrno(profile.has_defaulterrnoret(), profile.defaulterrnoret())));
  Ctx c{seccomp_init(defaultAction)};
  if (!c.ctx) return makeError("seccomp_init failed");
  for (const auto& a : profile.architectures()) {
    KATA_ASSIGN_OR_RETURN(uint32_t arch, parseArch(a));
    int rc = seccomp_arch_add(c.ctx, arch);
    if (rc != 0 && rc != -EEXIST) return sysError("seccomp: add architecture " + a, -rc);
  }
  for (const auto& rule : profile.syscalls()) {
    KATA_ASSIGN_OR_RETURN(
        uint32_t action,
        parseAction(rule.action(), presentErrno(rule.has_errnoret(), rule.errnoret())));
    std::vector<scmp_arg_cmp> args;
    bool sameArgTwice = false;
    unsigned seen = 0;
    for (const auto& arg : rule.args()) {
      if (arg.index() > 5) return makeError("seccomp: argument index above 5", EINVAL);
      KATA_ASSIGN_OR_RETURN(scmp_compare op, parseOp(arg.op()));
      if (seen & (1u << arg.index())) sameArgTwice = true;
      seen |= 1u << arg.index();
      args.push_back(
          scmp_arg_cmp{static_cast<unsigned>(arg.index()), op, arg.value(), arg.valuetwo()});
    }
    if (action == defaultAction) continue;  // libseccomp refuses rules that change nothing
    for (const auto& name : rule.names()) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        if (skipped) skipped->push_back(name);
        continue;
      }
      int rc = 0;
      if (sameArgTwice) {
        // Conditions on one argument cannot share a rule: one rule per condition, so that any
        // of them matches (runc's reading of such a rule).
        for (const auto& a : args) {
          rc = seccomp_rule_add_array(c.ctx, action, nr, 1, &a);
          if (rc != 0) break;
        }
      } else {
        rc = seccomp_rule_add_array(c.ctx, action, nr, static_cast<unsigned>(args.size()),
                                    args.empty() ? nullptr : args.data());
      }
      if (rc != 0) return sysError("seccomp: add rule for " + name, -rc);
    }
  }
  KATA_ASSIGN_OR_RETURN(program.bpf, exportBpf(c.ctx));
  return program;
}

Status installSeccomp(const SeccompProgram& program) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(program.bpf.data()));
  // Confines the container process to the syscalls its profile allows, for good.
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog) != 0) {
    return sysError("install seccomp filter");
  }
  return okStatus();
}

}  // namespace kata::agent
