#include "runtime/containerd-shim-v2/events.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/time_util.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/child_process.h"
#include "lib/log.h"
#include "lib/printable.h"
#include "lib/unique_fd.h"
#include "protocols/containerd/events/forward.pb.h"

namespace kata::shimv2 {
namespace {

constexpr size_t kMaxErrorBytes = 512;

/// An anonymous file holding `data`, positioned at its start: a child's stdin that never
/// blocks the writer and never raises SIGPIPE, whatever the child reads.
Result<UniqueFd> memoryFile(const char* name, std::string_view data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return sysError("memfd_create");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("write memfd");
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return sysError("lseek memfd");
  return fd;
}

std::string readBack(int fd) {
  std::string out(kMaxErrorBytes, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), 0);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

EventPublisher::EventPublisher(const Options& options)
    : EventPublisher(PublisherConfig{options.publishBinary, options.address, options.ns,
                                     options.ttrpcAddress}) {}

EventPublisher::EventPublisher(PublisherConfig config) : config_(std::move(config)) {
  worker_ = std::thread([this] { run(); });
}

EventPublisher::~EventPublisher() { close(); }

void EventPublisher::publish(const std::string& topic, const google::protobuf::Message& event) {
  google::protobuf::Any any;
  // containerd's typeurl names a protobuf message it has no registration for by its full
  // name, without the "type.googleapis.com/" prefix PackFrom would add.
  any.set_type_url(event.GetDescriptor()->full_name());
  any.set_value(event.SerializeAsString());
  Item item{topic, any.SerializeAsString()};

  std::unique_lock lock(mu_);
  bool room = cv_.wait_for(lock, config_.blockTimeout,
                           [this] { return closing_ || queue_.size() < config_.maxQueued; });
  if (closing_ || !room) {
    failures_++;
    log::error("event dropped: " + std::string(closing_ ? "publisher closed" : "queue full"),
               {{"topic", topic}, {"type", any.type_url()}});
    return;
  }
  queue_.push_back(std::move(item));
  cv_.notify_all();
}

void EventPublisher::close(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mu_);
    if (!worker_.joinable()) return;
    closing_ = true;
    cv_.notify_all();
    if (!cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; })) {
      failures_ += queue_.size();
      log::error("events dropped at shutdown: containerd's publish binary did not take them in " +
                     std::to_string(timeout.count()) + " ms",
                 {{"count", std::to_string(queue_.size() + (busy_ ? 1 : 0))}});
      queue_.clear();
    }
    abort_ = true;
    cv_.notify_all();
  }
  worker_.join();
}

size_t EventPublisher::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void EventPublisher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return abort_ || !queue_.empty(); });
    if (abort_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    cv_.notify_all();  // room for a waiting publish()
    lock.unlock();
    bool ok = publishOne(item);
    lock.lock();
    if (!ok) failures_++;
    busy_ = false;
    cv_.notify_all();
  }
}

bool EventPublisher::publishOne(const Item& item) {
  if (!config_.ttrpcAddress.empty()) {
    Status forwarded = forward(item);
    if (forwarded.ok()) return true;
    ttrpc_.reset();  // dialled again for the next event
    log::warn("event not forwarded over ttrpc, running the publish binary",
              {{"topic", item.topic}, {"error", forwarded.error().str()}});
  }
  return runPublishBinary(item);
}

Status EventPublisher::forward(const Item& item) {
  if (!ttrpc_) {
    std::string path = config_.ttrpcAddress;
    if (path.rfind("unix://", 0) == 0) path = path.substr(7);
    KATA_ASSIGN_OR_RETURN(ttrpc_, ttrpc::Client::connect(path, 0));
  }
  ::containerd::services::events::ttrpc::v1::ForwardRequest req;
  auto* env = req.mutable_envelope();
  *env->mutable_timestamp() = google::protobuf::util::TimeUtil::GetCurrentTime();
  env->set_namespace_(config_.ns);
  env->set_topic(item.topic);
  if (!env->mutable_event()->ParseFromString(item.payload))
    return makeError("event payload is not an Any", EINVAL);
  KATA_ASSIGN_OR_RETURN(ttrpc::Reply reply,
                        ttrpc_->call("containerd.services.events.ttrpc.v1.Events", "Forward",
                                     req.SerializeAsString(), config_.publishTimeout));
  if (reply.status.code != ttrpc::Code::Ok)
    return makeError("containerd refused the event: " + printable(reply.status.message), EPROTO);
  return okStatus();
}

bool EventPublisher::runPublishBinary(const Item& item) {
  auto fail = [&item](const std::string& why) {
    log::error("publish event: " + why, {{"topic", item.topic}});
    return false;
  };
  auto in = memoryFile("event", item.payload);
  auto err = memoryFile("publish-stderr", "");
  if (!in.ok()) return fail(in.error().str());
  if (!err.ok()) return fail(err.error().str());

  SpawnOptions spawn;
  spawn.argv = {config_.binary, "--address", config_.address, "publish",
                "--topic",      item.topic,  "--namespace",   config_.ns};
  spawn.stdinFd = in->get();
  spawn.stderrFd = err->get();
  auto child = ChildProcess::spawn(spawn);
  if (!child.ok()) return fail(child.error().str());

  const auto deadline = std::chrono::steady_clock::now() + config_.publishTimeout;
  for (;;) {
    auto exited = child->tryWait();
    if (!exited.ok()) return fail(exited.error().str());
    if (exited->has_value()) {
      if (**exited == 0) return true;
      return fail(config_.binary + " exited with " + std::to_string(**exited) + ": " +
                  printable(readBack(err->get())));
    }
    {
      std::unique_lock lock(mu_);
      if (abort_) return fail("shim closing, publish killed");  // ~ChildProcess kills it
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(config_.binary + " did not exit within " +
                  std::to_string(config_.publishTimeout.count()) + " ms, killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace kata::shimv2
