#include "shim/agent_url.h"

#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>

namespace kata::shim {
namespace {

constexpr std::string_view kUnixPrefix = "unix://";
constexpr std::string_view kVsockPrefix = "vsock://";

Result<uint32_t> parseU32(std::string_view text, const char* what, std::string_view url) {
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
  // from_chars accepts no sign or spaces, but would stop early on trailing junk: require all.
  if (text.empty() || ec != std::errc() || ptr != end) {
    return makeError("invalid vsock " + std::string(what) + " \"" + std::string(text) +
                     "\" in agent URL \"" + std::string(url) + "\"");
  }
  return value;
}

}  // namespace

std::string AgentUrl::str() const {
  if (scheme == Scheme::Unix) return std::string(kUnixPrefix) + path;
  return std::string(kVsockPrefix) + std::to_string(cid) + ":" + std::to_string(port);
}

Result<AgentUrl> parseAgentUrl(std::string_view url) {
  AgentUrl out;
  if (url.starts_with(kUnixPrefix)) {
    out.scheme = AgentUrl::Scheme::Unix;
    out.path = std::string(url.substr(kUnixPrefix.size()));
    if (out.path.empty() || out.path[0] != '/') {
      return makeError("agent URL \"" + std::string(url) + "\" needs an absolute socket path");
    }
    if (out.path.find('\0') != std::string::npos) {
      return makeError("agent URL contains a NUL byte");
    }
    if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return makeError("agent socket path \"" + out.path + "\" is too long for a unix socket");
    }
    return out;
  }
  if (url.starts_with(kVsockPrefix)) {
    out.scheme = AgentUrl::Scheme::Vsock;
    std::string_view rest = url.substr(kVsockPrefix.size());
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return makeError("agent URL \"" + std::string(url) + "\" must be vsock://<cid>:<port>");
    }
    KATA_ASSIGN_OR_RETURN(out.cid, parseU32(rest.substr(0, colon), "cid", url));
    KATA_ASSIGN_OR_RETURN(out.port, parseU32(rest.substr(colon + 1), "port", url));
    return out;
  }
  return makeError("unsupported agent URL \"" + std::string(url) +
                   "\" (want unix:///path or vsock://cid:port)");
}

Result<UniqueFd> dialAgent(const AgentUrl& url) {
  if (url.scheme == AgentUrl::Scheme::Unix) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sysError("create unix socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    url.path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return sysError("connect to agent at " + url.str());
    }
    return fd;
  }
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("create vsock socket");
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = url.cid;
  addr.svm_port = url.port;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return sysError("connect to agent at " + url.str());
  }
  return fd;
}

}  // namespace kata::shim
