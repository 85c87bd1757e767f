// The agent's top level: init duties when PID 1, then the gRPC server on its channels, until
// SIGTERM (host test mode) or forever (init: DestroySandbox or a fatal error powers off).
#pragma once

#include "agent/options.h"

namespace kata::agent {

/// Runs the agent; returns the process exit code (never returns as PID 1).
int runAgent(const AgentOptions& options);

}  // namespace kata::agent
