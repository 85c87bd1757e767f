// ListProcesses output in the shapes `kata-runtime ps` and `docker top` expect: "json" is a JSON
// array of pids; "table" is the output of `ps <args>` (default -ef) run in the guest's pid
// namespace, cut down to the header and the container's processes, as `runc ps` does.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "lib/result.h"

namespace kata::agent {

/// "[1,12]" (sorted).
std::string pidsJson(std::vector<pid_t> pids);

/// Checks ps arguments from the request: at most 32, each 1..256 bytes, no NUL. Empty means
/// the default "-ef".
Result<std::vector<std::string>> psArguments(const std::vector<std::string>& args);

/// Keeps the header line and the lines of `psOutput` whose PID column holds one of `pids`.
/// Error when the header has no PID column (e.g. "-o comm").
Result<std::string> filterPsTable(const std::string& psOutput, const std::vector<pid_t>& pids);

}  // namespace kata::agent
