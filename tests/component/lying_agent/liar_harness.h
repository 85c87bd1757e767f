// What the lying-agent tests share: running a host program with a time limit and measuring it,
// reading a live process's memory and descriptors from /proc, and protobuf bytes made by hand
// (replies no honest encoder would produce).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kata::liar {

/// Memory figures mean nothing under AddressSanitizer (shadow memory, quarantine), and the
/// leak check it runs at exit cannot stop a program that a tracer (runProgram's, for the peak
/// figure) holds: an ASan build (make asan) neither traces nor checks memory bounds; the
/// regular build (make test) checks them.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kMeasureMemory = false;
#else
inline constexpr bool kMeasureMemory = true;
#endif

/// A finished (or killed) program run.
struct Run {
  int code = -1;  // exit code, 128+signal when killed
  std::string out, err;
  double seconds = 0;
  long maxRssKiB = 0;   // the program's peak resident memory (VmHWM as it exits); 0 unknown
  bool killed = false;  // it outlived its limit and was killed
};

/// Runs `argv` with `env` added to ours, stdin /dev/null, and stdout and stderr captured (up to
/// 64 MiB each, the rest read and dropped). Stops capturing when the program exits, even when
/// something it started holds the pipes; kills it after `limit`. `watch`, when given, runs on a
/// thread of its own with the program's pid while it runs (it should return once /proc shows
/// the program gone) and is joined before this returns.
Run runProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               std::chrono::seconds limit, const std::function<void(pid_t)>& watch = nullptr);

/// A "kB" field of /proc/<pid>/status (VmRSS, VmHWM); -1 when unreadable.
long statusKiB(pid_t pid, const char* field);
/// Open descriptors of `pid`; -1 when unreadable.
int fdCount(pid_t pid);
/// User + system CPU time of `pid` in ms; -1 when unreadable.
long cpuMs(pid_t pid);

/// The key and length of a length-delimited protobuf field (bytes, string, message) of `size`
/// bytes: followed by that many bytes it is a valid encoding.
std::string fieldHeader(int field, uint64_t size);

/// Lines in `text` (a final line without '\n' counts).
int lineCount(const std::string& text);
/// True when `text` holds a byte a terminal acts on: C0 controls other than '\n', DEL, or the
/// UTF-8 form of a C1 control (U+0080..U+009F).
bool hasTerminalControls(const std::string& text);

}  // namespace kata::liar
