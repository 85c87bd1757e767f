#include "runtime/containerd-shim-v2/bootstrap.h"

#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/oci_spec.h"
#include "lib/parse.h"
#include "lib/pod_role.h"
#include "lib/unix_socket.h"
#include "protocols/containerd/task/shim.pb.h"

namespace kata::shimv2 {
namespace {

constexpr const char* kUnixScheme = "unix://";
constexpr uint32_t kKilledExitStatus = 137;  // 128 + SIGKILL: the shim and its VM are gone

std::string sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  char buf[3];
  for (unsigned char b : digest) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

bool someoneListens(const std::string& path) { return connectUnix(path, 0).ok(); }

Status writeAddressFile(const std::string& bundle, const std::string& address) {
  KATA_TRY_CTX(writeFileAtomic(bundle + "/address", address, 0600), "write the shim address");
  return okStatus();
}

}  // namespace

std::string goPathJoin(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!joined.empty()) joined += '/';
    joined += p;
  }
  if (joined.empty()) return "";
  const bool rooted = joined[0] == '/';
  std::vector<std::string> out;
  for (const std::string& name : splitFields(joined, '/')) {
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
      } else if (!rooted) {
        out.push_back(name);  // a relative path keeps leading ".."; "/.." is "/"
      }
      continue;
    }
    out.push_back(name);
  }
  std::string clean = rooted ? "/" : "";
  for (size_t i = 0; i < out.size(); i++) {
    if (i > 0) clean += '/';
    clean += out[i];
  }
  return clean.empty() ? "." : clean;
}

std::string socketAddress(const std::string& containerdAddress, const std::string& ns,
                          const std::string& id, const std::string& socketRoot) {
  const std::string digest = sha256Hex(goPathJoin({containerdAddress, ns, id}));
  return kUnixScheme + goPathJoin({socketRoot, "s"}) + "/" + digest;
}

std::string socketPathOf(const std::string& address) {
  const std::string scheme = kUnixScheme;
  if (address.rfind(scheme, 0) != 0) return "";
  return address.substr(scheme.size());
}

Result<std::string> startShim(const Options& options, const BootstrapConfig& config) {
  KATA_ASSIGN_OR_RETURN(oci::Spec spec, oci::loadSpec(options.bundle));
  KATA_ASSIGN_OR_RETURN(oci::PodRole role, oci::podRole(spec));

  if (role.member) {
    // The pod's shim serves this container too; it must be there already (CRI starts the
    // sandbox first).
    const std::string address =
        socketAddress(options.address, options.ns, role.sandboxId, config.socketRoot);
    if (!someoneListens(socketPathOf(address))) {
      return makeError("sandbox " + role.sandboxId + " of container " + options.id +
                           " has no running shim (nothing listens on " + socketPathOf(address) +
                           ")",
                       ENOENT);
    }
    KATA_TRY(writeAddressFile(options.bundle, address));
    return address;
  }

  const std::string address =
      socketAddress(options.address, options.ns, options.id, config.socketRoot);
  const std::string path = socketPathOf(address);
  KATA_TRY_CTX(mkdirAll(goPathJoin({config.socketRoot, "s"}), 0700), "shim socket directory");
  auto listener = listenUnix(path);
  if (!listener.ok()) {
    // A shim already serves this id (a second start, or two racing): its address is the answer.
    if (listener.error().code == EADDRINUSE && someoneListens(path)) {
      KATA_TRY(writeAddressFile(options.bundle, address));
      return address;
    }
    return std::move(listener).error().wrap("create the shim socket");
  }
  auto fail = [&path, &options](Error e) {
    ::unlink(path.c_str());
    ::unlink((options.bundle + "/address").c_str());
    return e;
  };
  if (auto st = writeAddressFile(options.bundle, address); !st.ok()) {
    return fail(std::move(st).error());
  }

  SpawnOptions daemon;
  daemon.program = config.selfExe;
  daemon.argv = {"containerd-shim-kata-v2"};
  for (std::string& a : toArgs(options)) daemon.argv.push_back(std::move(a));
  daemon.cwd = options.bundle;
  daemon.setsid = true;  // outlives this command and containerd's process group
  // The daemon serves the socket made here, as containerd's own shims do (fd 3).
  daemon.extraFds = {{listener->get(), 3}};
  auto pid = ChildProcess::spawnDetached(daemon);
  if (!pid.ok()) return fail(std::move(pid).error().wrap("start the shim daemon"));
  return address;
}

Status initShimLog(const Options& options) {
  log::Options logOptions;
  logOptions.name = "containerd-shim-kata-v2";
  logOptions.source = "containerd-kata-shim-v2";
  logOptions.level = options.debug ? log::Level::Debug : log::Level::Warn;
  logOptions.fields = {{"sandbox", options.id}, {"namespace", options.ns}};
  return log::init(logOptions);
}

std::string deleteResponse(int64_t exitedAtNanos) {
  containerd::task::v2::DeleteResponse resp;
  resp.set_pid(0);
  resp.set_exit_status(kKilledExitStatus);
  resp.mutable_exited_at()->set_seconds(exitedAtNanos / 1000000000);
  resp.mutable_exited_at()->set_nanos(static_cast<int32_t>(exitedAtNanos % 1000000000));
  return resp.SerializeAsString();
}

}  // namespace kata::shimv2
