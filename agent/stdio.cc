#include "agent/stdio.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace kata::agent {

namespace {

void setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void signalEventFd(int fd) {
  uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

constexpr auto kCancelPoll = std::chrono::milliseconds(200);

}  // namespace

std::pair<char*, size_t> RingBuffer::tailSpace() {
  if (size_ == 0) head_ = 0;  // the whole buffer in one piece (no span is outstanding now)
  size_t tail = (head_ + size_) % buf_.size();
  size_t room = size_ == buf_.size() ? 0 : (tail >= head_ ? buf_.size() - tail : head_ - tail);
  return {buf_.data() + tail, room};
}

void RingBuffer::commit(size_t n) { size_ += std::min(n, space()); }

size_t RingBuffer::pop(std::string& out, size_t max) {
  size_t n = std::min(max, size_);
  size_t first = std::min(n, buf_.size() - head_);
  out.append(buf_.data() + head_, first);
  out.append(buf_.data(), n - first);
  head_ = (head_ + n) % buf_.size();
  size_ -= n;
  return n;
}

OutputStream::OutputStream(UniqueFd fd, bool /*isTty*/, size_t capacity)
    : fd_(std::move(fd)), buffer_(capacity) {
  setNonBlocking(fd_.get());
  stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] { pump(); });
}

OutputStream::~OutputStream() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void OutputStream::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  signalEventFd(stopFd_.get());
  spaceCv_.notify_all();
  dataCv_.notify_all();
}

void OutputStream::processExited(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exitDeadline_) return;
    exitDeadline_ = std::chrono::steady_clock::now() + grace;
  }
  signalEventFd(stopFd_.get());  // the pump recomputes its poll timeout
}

void OutputStream::pump() {
  for (;;) {
    std::pair<char*, size_t> room;
    int timeoutMs = -1;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Backpressure: while the buffer is full we stop reading, the pipe fills up and the
      // process blocks in write().
      spaceCv_.wait(lock, [&] { return stopped_ || buffer_.space() > 0; });
      if (stopped_) break;
      room = buffer_.tailSpace();
      if (exitDeadline_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *exitDeadline_ - std::chrono::steady_clock::now());
        timeoutMs = static_cast<int>(std::max<int64_t>(0, left.count()));
      }
    }
    pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    int ready = ::poll(fds, 2, timeoutMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // The process exited a grace period ago and nothing is left to read: whoever still holds
    // the other end (a background child) keeps it from us.
    if (ready == 0) break;
    if (fds[1].revents) {
      uint64_t count;
      (void)!::read(stopFd_.get(), &count, sizeof count);
      continue;  // stop() or processExited(): re-checked under the lock above
    }
    // Straight into the buffer: under emulation every copy of the output counts.
    ssize_t n = ::read(fd_.get(), room.first, room.second);
    if (n > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      buffer_.commit(static_cast<size_t>(n));
      dataCv_.notify_all();
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    // n == 0: every writer closed the pipe. EIO: the pty slave is closed (terminal).
    break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  eof_ = true;
  dataCv_.notify_all();
}

std::string OutputStream::read(size_t maxLen, const CancelCheck& cancelled) {
  std::string out;
  std::unique_lock<std::mutex> lock(mu_);
  while (buffer_.size() == 0 && !eof_) {
    if (cancelled && cancelled()) return out;
    dataCv_.wait_for(lock, kCancelPoll);
  }
  // A caller that gave up while waiting must not take data that nobody will receive.
  if (cancelled && cancelled()) return out;
  if (buffer_.size() == 0) {
    endReported_ = true;  // eof_: this empty answer tells the reader the stream ended
    return out;
  }
  out.reserve(std::min(maxLen, buffer_.size()));
  buffer_.pop(out, maxLen);
  spaceCv_.notify_all();
  return out;
}

bool OutputStream::drained() {
  std::lock_guard<std::mutex> lock(mu_);
  return endReported_;
}

InputStream::InputStream(UniqueFd fd, bool isTty) : fd_(std::move(fd)), isTty_(isTty) {
  setNonBlocking(fd_.get());
  stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

InputStream::~InputStream() = default;

void InputStream::stop() { signalEventFd(stopFd_.get()); }

Result<size_t> InputStream::write(const std::string& data, const CancelCheck& cancelled) {
  UniqueFd fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // As upstream's agent: input after CloseStdin is accepted and dropped (0 bytes written).
    if (closed_ || !fd_) return size_t{0};
    // A private duplicate lets CloseStdin close the original while this write is blocked; the
    // process sees EOF once this write finishes.
    fd.reset(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return sysError("dup stdin");
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      if (done > 0) return done;
      return sysError("write to process stdin");
    }
    pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {stopFd_.get(), POLLIN, 0}};
    ::poll(fds, 2, 200);
    if (fds[1].revents) break;
    if (cancelled && cancelled()) break;
  }
  return done;
}

Status InputStream::close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return okStatus();
  closed_ = true;
  if (isTty_) {
    // A terminal cannot be half-closed: the line discipline turns VEOF into end of input.
    char eof = 4;
    struct termios tio;
    if (::tcgetattr(fd_.get(), &tio) == 0) eof = static_cast<char>(tio.c_cc[VEOF]);
    (void)!::write(fd_.get(), &eof, 1);
  }
  fd_.reset();
  return okStatus();
}

Result<Pty> openPty(const char* ptmxPath, unsigned rows, unsigned cols) {
  Pty pty;
  pty.master.reset(::open(ptmxPath, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return sysError(std::string("open ") + ptmxPath);
  if (::unlockpt(pty.master.get()) != 0) return sysError("unlockpt");
  // TIOCGPTPEER opens the slave through the master, without a path lookup in /dev/pts.
  pty.slave.reset(::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return sysError("open pty slave");
  if (rows && cols) KATA_TRY(resizeTerminal(pty.master.get(), rows, cols));
  return pty;
}

Result<StdioPair> createStdio(bool terminal) {
  StdioPair p;
  p.terminal = terminal;
  if (terminal) return p;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe for stdin");
  p.childIn.reset(fds[0]);
  p.stdinWrite.reset(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe for stdout");
  p.stdoutRead.reset(fds[0]);
  p.childOut.reset(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe for stderr");
  p.stderrRead.reset(fds[0]);
  p.childErr.reset(fds[1]);
  // Bigger pipes mean fewer wake-ups of the pump for chatty processes.
  ::fcntl(p.stdoutRead.get(), F_SETPIPE_SZ, 1 << 20);
  return p;
}

Status resizeTerminal(int masterFd, unsigned rows, unsigned cols) {
  struct winsize ws {};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (::ioctl(masterFd, TIOCSWINSZ, &ws) != 0) return sysError("set terminal size");
  return okStatus();
}

}  // namespace kata::agent
