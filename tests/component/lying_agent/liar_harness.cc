#include "liar_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "lib/child_process.h"
#include "lib/unique_fd.h"

extern char** environ;

namespace kata::liar {
namespace {

constexpr size_t kMaxCapture = 64 << 20;

// Reads what `fd` has now (non-blocking) into `out`; false at EOF or error.
bool drain(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (out.size() < kMaxCapture) out.append(buf, std::min(size_t(n), kMaxCapture - out.size()));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

}  // namespace

Run runProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               std::chrono::seconds limit, const std::function<void(pid_t)>& watch) {
  Run r;
  int outPipe[2], errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0) {
    r.err = "pipe: " + std::string(strerror(errno));
    return r;
  }
  UniqueFd outRead(outPipe[0]), outWrite(outPipe[1]), errRead(errPipe[0]), errWrite(errPipe[1]);
  SpawnOptions o;
  o.argv = argv;
  std::vector<std::string> fullEnv;
  for (char** e = environ; e && *e; e++) fullEnv.emplace_back(*e);
  fullEnv.insert(fullEnv.end(), env.begin(), env.end());
  o.env = fullEnv;
  o.stdoutFd = outWrite.get();
  o.stderrFd = errWrite.get();
  const auto start = std::chrono::steady_clock::now();
  auto child = ChildProcess::spawn(o);
  if (!child.ok()) {
    r.err = child.error().str();
    return r;
  }
  pid_t pid = child->release();  // waited for below
  // Stopped as it exits, to read its peak memory: getrusage's figure would include this
  // process's size, which the child had between fork and exec.
  bool traced = kMeasureMemory && ::ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT) == 0;
  std::thread watcher;
  if (watch) watcher = std::thread([&watch, pid] { watch(pid); });
  outWrite.reset();
  errWrite.reset();
  ::fcntl(outRead.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(errRead.get(), F_SETFL, O_NONBLOCK);
  bool outOpen = true, errOpen = true;
  int status = 0;
  for (;;) {
    pollfd p[2] = {{outOpen ? outRead.get() : -1, POLLIN, 0},
                   {errOpen ? errRead.get() : -1, POLLIN, 0}};
    (void)::poll(p, 2, 20);
    if (outOpen) outOpen = drain(outRead.get(), r.out);
    if (errOpen) errOpen = drain(errRead.get(), r.err);
    pid_t w = ::waitpid(pid, &status, WNOHANG | __WALL);
    if (w == pid && traced && WIFSTOPPED(status)) {
      int sig = WSTOPSIG(status);
      if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
        r.maxRssKiB = statusKiB(pid, "VmHWM");
        sig = 0;
      } else if (status >> 16 != 0) {
        sig = 0;  // another ptrace event
      }
      ::ptrace(PTRACE_CONT, pid, 0, sig);  // a signal the program was sent goes on to it
      continue;
    }
    if (w == pid) break;
    if (!r.killed && std::chrono::steady_clock::now() - start > limit) {
      ::kill(pid, SIGKILL);
      r.killed = true;
    }
  }
  // What the program wrote before it exited (a child it left behind may hold the pipes).
  if (outOpen) drain(outRead.get(), r.out);
  if (errOpen) drain(errRead.get(), r.err);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (watcher.joinable()) watcher.join();
  r.code = exitCodeFromWaitStatus(status);
  return r;
}

long statusKiB(pid_t pid, const char* field) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "re");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      kib = std::strtol(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

int fdCount(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  ::closedir(d);
  return n;
}

long cpuMs(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "re");
  if (!f) return -1;
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2)
    return -1;
  return long((utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
}

std::string fieldHeader(int field, uint64_t size) {
  std::string out(1, char((field << 3) | 2));  // wire type 2: length-delimited
  do {
    uint8_t b = size & 0x7f;
    size >>= 7;
    out.push_back(char(size ? (b | 0x80) : b));
  } while (size);
  return out;
}

int lineCount(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') n++;
  return n;
}

bool hasTerminalControls(const std::string& text) {
  for (size_t i = 0; i < text.size(); i++) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
    // U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
    if (c == 0xc2 && i + 1 < text.size() &&
        (static_cast<unsigned char>(text[i + 1]) & 0xe0) == 0x80)
      return true;
    // A lone byte 0x80..0x9F (no lead byte before it) is an 8-bit C1 control.
    unsigned char prev = i ? static_cast<unsigned char>(text[i - 1]) : 0;
    if (c >= 0x80 && c <= 0x9f && prev < 0x80) return true;
  }
  return false;
}

}  // namespace kata::liar
