// RAII wrappers for the libuv handles the event-driven components use (poll on any fd, timers,
// signals). uv_close() completes asynchronously, so each handle lives on the heap and is freed
// by its close callback: the owning object may be destroyed at any time, even from inside one
// of the handle's own callbacks, and no callback reaches it afterwards.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <utility>

#include "lib/result.h"

namespace kata::uv {

/// An Error from a negative libuv status code.
inline Error uvError(int status, const std::string& what) {
  return makeError(what + ": " + uv_strerror(status), status < 0 ? -status : 0);
}

template <class H>
class HandleOwner {
 public:
  HandleOwner() = default;
  HandleOwner(const HandleOwner&) = delete;
  HandleOwner& operator=(const HandleOwner&) = delete;
  ~HandleOwner() { reset(); }

  bool valid() const { return h_ != nullptr; }
  H* get() const { return h_; }
  /// Closes the handle; its memory is freed once libuv is done with it.
  void reset() {
    if (!h_) return;
    h_->data = nullptr;  // callbacks still queued for this iteration find no owner
    uv_close(reinterpret_cast<uv_handle_t*>(h_),
             [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
    h_ = nullptr;
  }

 protected:
  /// Allocates and initializes the handle with `init(H*)` (a uv_*_init call); `owner` becomes
  /// its data pointer.
  template <class Init>
  Status create(Init init, void* owner, const std::string& what) {
    reset();
    auto* h = new H;
    int rc = init(h);
    if (rc < 0) {
      delete h;  // never registered with the loop: no uv_close needed
      return uvError(rc, what);
    }
    h->data = owner;
    h_ = h;
    return okStatus();
  }

  H* h_ = nullptr;
};

/// Readiness notifications on any fd (socket, pipe, char device such as /dev/vportNpM, where
/// uv_pipe_open is unreliable). libuv makes the fd non-blocking. On POLLERR libuv reports
/// status UV_EBADF whatever the real error is (read SO_ERROR for it) and stops watching.
class Poll : public HandleOwner<uv_poll_t> {
 public:
  using Callback = std::function<void(int status, int events)>;

  Status init(uv_loop_t* loop, int fd, Callback cb) {
    KATA_TRY(create([&](uv_poll_t* h) { return uv_poll_init(loop, h, fd); }, this,
                    "watch fd " + std::to_string(fd)));
    cb_ = std::move(cb);
    events_ = 0;
    return okStatus();
  }
  /// Sets the wanted events (UV_READABLE | UV_WRITABLE | UV_DISCONNECT); 0 stops watching.
  void want(int events) {
    if (!h_ || events == events_) return;
    events_ = events;
    if (events == 0) {
      uv_poll_stop(h_);
      return;
    }
    uv_poll_start(h_, events, [](uv_poll_t* h, int status, int ev) {
      auto* self = static_cast<Poll*>(h->data);
      if (!self) return;
      if (status < 0) self->events_ = 0;  // libuv stops the handle after reporting an error
      Callback cb = self->cb_;            // the owner may destroy us from inside the callback
      cb(status, ev);
    });
  }
  int wanted() const { return events_; }

 private:
  Callback cb_;
  int events_ = 0;
};

class Timer : public HandleOwner<uv_timer_t> {
 public:
  using Callback = std::function<void()>;

  Status init(uv_loop_t* loop, Callback cb) {
    KATA_TRY(create([&](uv_timer_t* h) { return uv_timer_init(loop, h); }, this, "create timer"));
    cb_ = std::move(cb);
    return okStatus();
  }
  /// (Re)arms the timer: first after `timeoutMs`, then every `repeatMs` (0 = once).
  void start(uint64_t timeoutMs, uint64_t repeatMs = 0) {
    if (!h_) return;
    uv_timer_start(
        h_,
        [](uv_timer_t* h) {
          auto* self = static_cast<Timer*>(h->data);
          if (!self) return;
          Callback cb = self->cb_;
          cb();
        },
        timeoutMs, repeatMs);
  }
  void stop() {
    if (h_) uv_timer_stop(h_);
  }
  bool active() const { return h_ && uv_is_active(reinterpret_cast<uv_handle_t*>(h_)); }
  /// Keeps the loop from waiting on this timer alone.
  void unref() {
    if (h_) uv_unref(reinterpret_cast<uv_handle_t*>(h_));
  }

 private:
  Callback cb_;
};

class Signal : public HandleOwner<uv_signal_t> {
 public:
  using Callback = std::function<void(int signum)>;

  Status start(uv_loop_t* loop, int signum, Callback cb) {
    KATA_TRY(create([&](uv_signal_t* h) { return uv_signal_init(loop, h); }, this,
                    "create signal handler"));
    cb_ = std::move(cb);
    int rc = uv_signal_start(
        h_,
        [](uv_signal_t* h, int sig) {
          auto* self = static_cast<Signal*>(h->data);
          if (!self) return;
          Callback cb = self->cb_;
          cb(sig);
        },
        signum);
    if (rc < 0) return uvError(rc, "watch signal " + std::to_string(signum));
    return okStatus();
  }

 private:
  Callback cb_;
};

/// Wakes the loop from another thread: send() is the only call that may be made off the
/// loop's thread; the callback runs on it (several sends may be coalesced into one call).
class Async : public HandleOwner<uv_async_t> {
 public:
  using Callback = std::function<void()>;

  Status init(uv_loop_t* loop, Callback cb) {
    cb_ = std::move(cb);
    return create(
        [&](uv_async_t* h) {
          return uv_async_init(loop, h, [](uv_async_t* a) {
            auto* self = static_cast<Async*>(a->data);
            if (!self) return;
            Callback cb = self->cb_;
            cb();
          });
        },
        this, "create async handle");
  }
  void send() {
    if (h_) uv_async_send(h_);
  }

 private:
  Callback cb_;
};

}  // namespace kata::uv
