// Running a helper program (ps) from the agent. The agent reaps every child through its Reaper,
// so lib/child_process.h's waitpid() would race with it: this runs the program under the
// reaper's spawn lock and takes its status from the reaper.
#pragma once

#include <string>
#include <vector>

#include "agent/reaper.h"
#include "lib/result.h"

namespace kata::agent {

struct CommandOutput {
  std::string out;   // stdout, capped at the limit
  int exitCode = 0;  // exit code, or 128+signal
};

/// Runs argv[0] (searched in PATH) with stdin /dev/null and stderr discarded, collecting at
/// most `maxOutput` bytes of stdout. Killed (and an ETIMEDOUT error) after `timeoutSec`.
Result<CommandOutput> runHelperCommand(Reaper& reaper, const std::vector<std::string>& argv,
                                       int timeoutSec, size_t maxOutput = 4 << 20);

}  // namespace kata::agent
