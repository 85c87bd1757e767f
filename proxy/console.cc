#include "proxy/console.h"

#include <fcntl.h>

#include "lib/log.h"
#include "lib/uv_fd.h"

namespace kata::proxy {

void LineSplitter::emit(std::string_view line, const LineHandler& onLine) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) onLine(line);
}

void LineSplitter::feed(std::string_view bytes, const LineHandler& onLine) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl);
    if (partial_.size() + piece.size() > maxLine_) {
      size_t take = maxLine_ - partial_.size();
      partial_.append(piece.substr(0, take));
      emit(partial_, onLine);
      partial_.clear();
      bytes.remove_prefix(take);
      continue;
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      emit(piece, onLine);
    } else {
      partial_.append(piece);
      emit(partial_, onLine);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish(const LineHandler& onLine) {
  emit(partial_, onLine);
  partial_.clear();
}

Status LogPump::start(uv_loop_t* loop, UniqueFd fd, const std::string& logPath,
                      uint64_t maxLogBytes) {
  if (!logPath.empty()) {
    // Read-write: the cap reads the newest half back (lib/capped_file.h).
    logFd_.reset(
        ::open(logPath.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!logFd_) {
      log::warn("cannot open the " + what_ + " log",
                {{"error", sysError("open " + logPath).str()}});
    } else {
      log_.attach(logFd_.get(), maxLogBytes, CappedFile::plainMarker(maxLogBytes));
    }
  }
  fd_ = std::move(fd);
  KATA_TRY_CTX(poll_.init(loop, fd_.get(),
                          [this](int status, int) {
                            if (status < 0) {
                              stop();
                              return;
                            }
                            onReadable();
                          }),
               "watch " + what_);
  poll_.want(UV_READABLE);
  return okStatus();
}

void LogPump::relay(std::string_view line) const {
  if (!relaySource_.empty()) log::info(line, {{"source", relaySource_}});
}

void LogPump::stop() {
  splitter_.finish([this](std::string_view line) { relay(line); });
  poll_.reset();
  fd_.reset();
  log_ = CappedFile();
  logFd_.reset();
}

void LogPump::onReadable() {
  char buf[16 * 1024];
  ssize_t n = uv::readSome(fd_.get(), {reinterpret_cast<uint8_t*>(buf), sizeof buf});
  if (n == -EAGAIN) return;
  if (n <= 0) {
    log::debug(what_ + " closed");
    stop();
    return;
  }
  if (log_.attached()) {
    Status st = log_.append({buf, static_cast<size_t>(n)});
    if (!st.ok()) {
      log::warn(what_ + " log write failed: no more of it is kept", {{"error", st.error().str()}});
      log_ = CappedFile();
      logFd_.reset();
    }
  }
  if (!relaySource_.empty()) {
    splitter_.feed({buf, static_cast<size_t>(n)}, [this](std::string_view line) { relay(line); });
  }
}

}  // namespace kata::proxy
