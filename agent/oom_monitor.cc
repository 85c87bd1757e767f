#include "agent/oom_monitor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "lib/log.h"

namespace kata::agent {

OomMonitor::~OomMonitor() { stop(); }

Status OomMonitor::watch(const std::string& containerId, UniqueFd eventFd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return makeError("OOM monitor is stopped", ESHUTDOWN);
  if (!epoll_) {
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) return sysError("epoll_create1");
    UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return sysError("eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) return sysError("epoll_ctl");
    epoll_ = std::move(ep);
    wake_ = std::move(wake);
    thread_ = std::thread([this] { loop(); });
  }
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    if (it->second.first == containerId) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
      watched_.erase(it);
      break;
    }
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = eventFd.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, eventFd.get(), &ev) != 0) {
    return sysError("epoll_ctl");
  }
  int fd = eventFd.get();
  watched_[fd] = {containerId, std::move(eventFd)};
  return okStatus();
}

void OomMonitor::unwatch(const std::string& containerId) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    if (it->second.first == containerId) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
      watched_.erase(it);  // closes the eventfd
      return;
    }
  }
}

void OomMonitor::loop() {
  epoll_event evs[16];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), evs, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log::error("OOM monitor stopped", {{"error", sysError("epoll_wait").str()}});
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      auto it = watched_.find(evs[i].data.fd);
      if (it == watched_.end()) continue;  // unwatched meanwhile
      uint64_t count = 0;
      // Non-blocking: a stale readiness for a replaced fd just reads EAGAIN.
      if (::read(it->first, &count, sizeof count) != sizeof count || count == 0) continue;
      const std::string& id = it->second.first;
      log::warn("container hit its memory limit", {{"container", id}});
      // One OOM often fires several notifications (memory and memory+swap, each victim): an
      // event still waiting for GetOOMEvent already says it.
      if (std::find(events_.begin(), events_.end(), id) != events_.end()) continue;
      if (events_.size() >= kMaxQueued) events_.pop_front();
      events_.push_back(id);
    }
    cv_.notify_all();
  }
}

std::optional<std::string> OomMonitor::next(const CancelCheck& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!events_.empty()) {
      std::string id = std::move(events_.front());
      events_.pop_front();
      return id;
    }
    if (stopping_ || (cancelled && cancelled())) return std::nullopt;
    cv_.wait_for(lock, std::chrono::milliseconds(200));
  }
}

void OomMonitor::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (wake_) {
      uint64_t one = 1;
      (void)!::write(wake_.get(), &one, sizeof one);
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  watched_.clear();
}

}  // namespace kata::agent
