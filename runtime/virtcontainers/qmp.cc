#include "runtime/virtcontainers/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "lib/state_file.h"

namespace kata::vc {
namespace {

int64_t nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Result<UniqueFd> connectUnix(const std::string& path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return makeError("socket path too long: " + path);
  std::copy(path.begin(), path.end(), addr.sun_path);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("connect " + path);
  return fd;
}

Status writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sysError("write to QMP");
    }
    data.remove_prefix(size_t(n));
  }
  return okStatus();
}

}  // namespace

Result<Json::Value> parseQmpMessage(std::string_view line) {
  if (line.size() > kQmpMaxMessage) return makeError("QMP message too large", EMSGSIZE);
  KATA_ASSIGN_OR_RETURN(Json::Value value, parseJson(line, "QMP message"));
  if (!value.isObject()) return makeError("QMP message is not a JSON object", EPROTO);
  return value;
}

Result<Json::Value> Qmp::readMessage(int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      return parseQmpMessage(line);
    }
    if (buffer_.size() > kQmpMaxMessage) return makeError("QMP message too large", EMSGSIZE);
    int64_t left = deadline - nowMs();
    if (left <= 0) return makeError("timed out waiting for QMP reply", ETIMEDOUT);
    struct pollfd p = {fd_.get(), POLLIN, 0};
    int r = poll(&p, 1, int(left));
    if (r < 0) {
      if (errno == EINTR) continue;
      return sysError("poll QMP socket");
    }
    if (r == 0) continue;
    char chunk[8192];
    ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return sysError("read QMP socket");
    }
    if (n == 0) return makeError("QEMU closed the QMP socket", ECONNRESET);
    buffer_.append(chunk, size_t(n));
  }
}

Result<Qmp> Qmp::connect(const std::string& socketPath, int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  Result<UniqueFd> fd = connectUnix(socketPath);
  while (!fd.ok() && nowMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fd = connectUnix(socketPath);
  }
  if (!fd.ok()) return std::move(fd).error().wrap("QMP");
  Qmp qmp(std::move(fd).value());
  const int left = int(std::max<int64_t>(1, deadline - nowMs()));
  KATA_ASSIGN_OR_RETURN(Json::Value greeting, qmp.readMessage(left));
  if (!greeting.isMember("QMP")) return makeError("QMP: unexpected greeting from QEMU", EPROTO);
  auto caps = qmp.execute("qmp_capabilities");
  if (!caps.ok()) return std::move(caps).error().wrap("QMP");
  return qmp;
}

Result<Json::Value> Qmp::execute(const std::string& command, const Json::Value& arguments,
                                 int timeoutMs) {
  Json::Value req(Json::objectValue);
  req["execute"] = command;
  if (!arguments.isNull()) req["arguments"] = arguments;
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  KATA_TRY(writeAll(fd_.get(), Json::writeString(w, req) + "\n"));
  const int64_t deadline = nowMs() + timeoutMs;
  for (;;) {
    int64_t left = deadline - nowMs();
    if (left <= 0) return makeError("QMP " + command + ": timed out", ETIMEDOUT);
    KATA_ASSIGN_OR_RETURN(Json::Value msg, readMessage(int(left)));
    if (msg.isMember("event")) {
      keepEvent(std::move(msg));
      continue;
    }
    if (msg.isMember("return")) return msg["return"];
    if (msg.isMember("error")) {
      const Json::Value& e = msg["error"];
      std::string desc = e.isObject() && e["desc"].isString() ? e["desc"].asString() : "error";
      return makeError("QMP " + command + ": " + desc, EIO);
    }
    return makeError("QMP " + command + ": reply has neither return nor error", EPROTO);
  }
}

void Qmp::keepEvent(Json::Value event) {
  events_.push_back(std::move(event));
  if (events_.size() > kMaxKeptEvents) events_.pop_front();
}

Result<Json::Value> Qmp::waitEvent(const std::string& name,
                                   const std::function<bool(const Json::Value&)>& match,
                                   int timeoutMs) {
  auto matches = [&](const Json::Value& e) {
    return e["event"].isString() && e["event"].asString() == name && match(e["data"]);
  };
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (matches(*it)) {
      Json::Value data = (*it)["data"];
      events_.erase(it);
      return data;
    }
  }
  const int64_t deadline = nowMs() + timeoutMs;
  for (;;) {
    int64_t left = deadline - nowMs();
    if (left <= 0)
      return makeError("QMP: no " + name + " event within " + std::to_string(timeoutMs) + " ms",
                       ETIMEDOUT);
    auto msg = readMessage(int(left));
    if (!msg.ok()) {
      if (msg.error().code == ETIMEDOUT) continue;  // reported with the event's name above
      return std::move(msg).error();
    }
    if (!msg->isMember("event")) continue;  // a stray reply: no command is outstanding
    if (matches(*msg)) return (*msg)["data"];
    keepEvent(std::move(msg).value());
  }
}

Status Qmp::deviceAdd(const std::string& driver, const std::string& id,
                      const Json::Value& properties, int timeoutMs) {
  Json::Value args = properties.isObject() ? properties : Json::Value(Json::objectValue);
  args["driver"] = driver;
  args["id"] = id;
  KATA_TRY(execute("device_add", args, timeoutMs));
  return okStatus();
}

Status Qmp::deviceDel(const std::string& id, int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  Json::Value args(Json::objectValue);
  args["id"] = id;
  KATA_TRY(execute("device_del", args, timeoutMs));
  auto isThisDevice = [&id](const Json::Value& data) {
    return data["device"].isString() && data["device"].asString() == id;
  };
  auto deleted =
      waitEvent("DEVICE_DELETED", isThisDevice, int(std::max<int64_t>(0, deadline - nowMs())));
  if (!deleted.ok()) {
    return std::move(deleted).error().wrap("unplug " + id +
                                           " (the guest has not released the device)");
  }
  return okStatus();
}

Result<std::string> Qmp::runState(int timeoutMs) {
  KATA_ASSIGN_OR_RETURN(Json::Value r,
                        execute("query-status", Json::Value(Json::nullValue), timeoutMs));
  if (!r.isObject() || !r["status"].isString())
    return makeError("QMP query-status: reply has no status", EPROTO);
  return r["status"].asString();
}

}  // namespace kata::vc
