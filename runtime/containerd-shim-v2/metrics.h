// The agent's container statistics as containerd's cgroup v1 metrics (the Any that the Stats
// rpc returns and `ctr task metrics` / CRI read).
#pragma once

#include "protocols/agent.pb.h"
#include "protocols/containerd/cgroups/metrics.pb.h"

namespace kata::shimv2 {

inline constexpr const char* kMetricsTypeUrl = "io.containerd.cgroups.v1.Metrics";

::io::containerd::cgroups::v1::Metrics toMetrics(const ::grpc::StatsContainerResponse& stats);

}  // namespace kata::shimv2
