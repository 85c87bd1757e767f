#include "agent/process_list.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace kata::agent {

namespace {

constexpr size_t kMaxPsArgs = 32;
constexpr size_t kMaxPsArgLen = 256;

std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

}  // namespace

std::string pidsJson(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  std::string out = "[";
  for (size_t i = 0; i < pids.size(); ++i) out += (i ? "," : "") + std::to_string(pids[i]);
  return out + "]";
}

Result<std::vector<std::string>> psArguments(const std::vector<std::string>& args) {
  if (args.empty()) return std::vector<std::string>{"-ef"};
  if (args.size() > kMaxPsArgs) {
    return makeError("ps args: more than " + std::to_string(kMaxPsArgs) + " arguments", EINVAL);
  }
  for (const auto& a : args) {
    if (a.empty() || a.size() > kMaxPsArgLen || a.find('\0') != std::string::npos) {
      return makeError("ps args: argument \"" + a.substr(0, 32) + "\" is empty, too long or " +
                           "holds a NUL byte",
                       EINVAL);
    }
  }
  return args;
}

Result<std::string> filterPsTable(const std::string& psOutput, const std::vector<pid_t>& pids) {
  std::istringstream in(psOutput);
  std::string header;
  if (!std::getline(in, header)) return makeError("ps printed nothing", EIO);
  auto names = fields(header);
  auto col = std::find(names.begin(), names.end(), "PID");
  if (col == names.end()) {
    return makeError("ps output has no PID column (the args must keep the pid field)", EINVAL);
  }
  size_t pidIndex = static_cast<size_t>(col - names.begin());
  std::set<std::string> wanted;
  for (pid_t p : pids) wanted.insert(std::to_string(p));
  std::string out = header + "\n";
  std::string line;
  while (std::getline(in, line)) {
    // Columns before PID never hold spaces in ps formats (USER, UID, F, S), so the
    // whitespace-split field at the header's index is the pid.
    auto f = fields(line);
    if (f.size() > pidIndex && wanted.count(f[pidIndex])) out += line + "\n";
  }
  return out;
}

}  // namespace kata::agent
