// Stdio of container processes, agent side. Output of a process is pumped from its pipe (or pty
// master) into a bounded buffer that ReadStdout/ReadStderr drain; when the buffer is full the
// pump stops reading, so the process blocks in write() instead of losing data, and memory stays
// bounded. Data read before the process exited stays until it is read; then reads return EOF
// (on the wire: protocols/agent_wire.h). A stream ends when every writer has closed it, or, once
// the process has exited, when a grace period has passed and nothing is left to read: a
// background child that keeps the pipe open must not hold the process's shim (and its caller)
// for ever.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::agent {

/// Fixed-capacity FIFO of bytes.
class RingBuffer {
 public:
  explicit RingBuffer(size_t capacity) : buf_(capacity) {}
  size_t size() const { return size_; }
  size_t capacity() const { return buf_.size(); }
  size_t space() const { return buf_.size() - size_; }
  /// The contiguous free bytes after the last one stored, to be filled in place (a read()
  /// straight into the buffer) and then commit()ted. pop() never moves them, so a single
  /// producer may fill them without holding the lock that guards pop().
  std::pair<char*, size_t> tailSpace();
  /// Stores the first `n` bytes of the last tailSpace().
  void commit(size_t n);
  /// Removes up to `max` bytes from the front, appending them to `out`.
  size_t pop(std::string& out, size_t max);

 private:
  std::vector<char> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
};

/// Returns true when the caller gave up (client cancelled the RPC).
using CancelCheck = std::function<bool()>;

class OutputStream {
 public:
  static constexpr size_t kDefaultCapacity = 1 << 20;

  /// Starts pumping `fd` (made non-blocking). EIO (a pty master whose slave closed) is EOF,
  /// for a pipe as for a terminal: `isTty` is not needed.
  OutputStream(UniqueFd fd, bool isTty, size_t capacity = kDefaultCapacity);
  ~OutputStream();
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;

  /// Blocks until data or EOF; returns up to `maxLen` bytes, empty at EOF (or when cancelled,
  /// which the caller distinguishes through its own check).
  std::string read(size_t maxLen, const CancelCheck& cancelled);
  /// Stops the pump (pending data can still be read, then EOF).
  void stop();
  /// The process has exited: the stream ends `grace` from now at the latest, as soon as the
  /// pipe (or pty) has nothing left to read, even if a child of the process still holds it.
  void processExited(std::chrono::milliseconds grace);
  /// True once a reader has been told that the stream ended (everything was read).
  bool drained();

 private:
  void pump();

  UniqueFd fd_;
  UniqueFd stopFd_;  // eventfd that wakes the pump's poll()
  std::mutex mu_;
  std::condition_variable dataCv_;
  std::condition_variable spaceCv_;
  RingBuffer buffer_;
  bool eof_ = false;
  bool endReported_ = false;
  bool stopped_ = false;
  std::optional<std::chrono::steady_clock::time_point> exitDeadline_;
  std::thread thread_;
};

/// The write side of a process's stdin (a pipe, or the pty master shared with the output).
class InputStream {
 public:
  /// `fd` is owned; for a tty pass a dup of the master.
  InputStream(UniqueFd fd, bool isTty);
  ~InputStream();

  /// Writes all of `data` unless the process side goes away or the call is cancelled; returns
  /// how many bytes were written (0 once stdin was closed: the input is dropped).
  Result<size_t> write(const std::string& data, const CancelCheck& cancelled);
  /// Closes stdin: EOF for a pipe; for a terminal the EOF character (^D) is sent instead,
  /// since a pty has no half-close.
  Status close();
  /// Wakes and fails blocked writers (container removal).
  void stop();

 private:
  std::mutex mu_;
  UniqueFd fd_;
  bool isTty_;
  bool closed_ = false;
  UniqueFd stopFd_;
};

/// The descriptors of a new process's stdio: the child's side (to dup onto 0/1/2) and the
/// agent's side (to feed the streams above).
struct StdioPair {
  bool terminal = false;
  // Child side: pipes (stdin read end, stdout/stderr write ends) or the pty slave in all three.
  UniqueFd childIn, childOut, childErr;
  // Agent side.
  UniqueFd stdinWrite, stdoutRead, stderrRead;  // pipes
  UniqueFd ptyMaster;                           // terminal
};

/// Creates the pipes of a process. For a terminal nothing is opened here: the pty must come
/// from the container's own devpts instance (so that `tty` and `ps` inside see /dev/pts/N),
/// so the container process opens it (openPty) and passes the master back (spawn.h), which
/// fills `ptyMaster`.
Result<StdioPair> createStdio(bool terminal);

struct Pty {
  UniqueFd master;
  UniqueFd slave;
};

/// Opens a new pty through `ptmxPath` (resolved in the caller's mount namespace: the pty
/// belongs to the devpts instance mounted there), with the window size when rows/cols are
/// non-zero. Both fds are close-on-exec.
Result<Pty> openPty(const char* ptmxPath, unsigned rows, unsigned cols);

/// Sets the window size of a pty master.
Status resizeTerminal(int masterFd, unsigned rows, unsigned cols);

}  // namespace kata::agent
