// Where kata-shim finds the agent: "unix:///run/vc/sbs/<sandbox>/proxy.sock" (through kata-proxy,
// where each connection becomes one yamux stream to the agent) or "vsock://<cid>:<port>"
// (straight to the agent; gRPC has no vsock resolver, so the shim dials the socket itself).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::shim {

struct AgentUrl {
  enum class Scheme { Unix, Vsock };
  Scheme scheme = Scheme::Unix;
  std::string path;   // Unix: absolute socket path
  uint32_t cid = 0;   // Vsock: context id of the guest
  uint32_t port = 0;  // Vsock: port the agent listens on

  /// The URL in canonical form ("unix:///x", "vsock://3:1024").
  std::string str() const;
};

/// Parses an agent URL strictly: unix:// needs an absolute path short enough for sun_path,
/// vsock:// needs decimal 32-bit cid and port. The error names what is wrong.
Result<AgentUrl> parseAgentUrl(std::string_view url);

/// Opens a connected stream socket (O_CLOEXEC) to the agent described by `url`.
Result<UniqueFd> dialAgent(const AgentUrl& url);

}  // namespace kata::shim
