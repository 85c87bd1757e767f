// Publishes task events to containerd, as containerd 1.6 takes them from a shim:
//  * when containerd gave its ttrpc socket ($TTRPC_ADDRESS), by a Forward call of its events
//    service (containerd.services.events.ttrpc.v1.Events) on one kept connection: a round trip
//    on a local socket, where running a binary costs a Go process start per event;
//  * else, or when that socket cannot be reached, by running its publish binary,
//      <publish-binary> --address <containerd address> publish --topic /tasks/exit --namespace NS
//    with a marshaled google.protobuf.Any on stdin.
// Either way the event is a google.protobuf.Any whose type_url is the event's full protobuf
// name ("containerd.events.TaskExit", as containerd's typeurl names unregistered messages).
//
// Events go out in the order publish() was called, one at a time, from one worker thread, so
// that a slow containerd never blocks a task rpc. The queue is bounded: when it is full,
// publish() waits for room (up to blockTimeout) and then drops the event with an error in the
// log. A publish that fails (non-zero exit, no exit within publishTimeout) is logged and the
// next one goes on.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "lib/ttrpc_client.h"
#include "runtime/containerd-shim-v2/options.h"

namespace kata::shimv2 {

inline constexpr const char* kTopicCreate = "/tasks/create";
inline constexpr const char* kTopicStart = "/tasks/start";
inline constexpr const char* kTopicDelete = "/tasks/delete";
inline constexpr const char* kTopicExit = "/tasks/exit";
inline constexpr const char* kTopicExecAdded = "/tasks/exec-added";
inline constexpr const char* kTopicExecStarted = "/tasks/exec-started";
inline constexpr const char* kTopicOom = "/tasks/oom";
inline constexpr const char* kTopicPaused = "/tasks/paused";
inline constexpr const char* kTopicResumed = "/tasks/resumed";

struct PublisherConfig {
  std::string binary;        // -publish-binary
  std::string address;       // -address: containerd's gRPC socket
  std::string ns;            // -namespace
  std::string ttrpcAddress;  // $TTRPC_ADDRESS: containerd's ttrpc socket ("" for none)
  size_t maxQueued = 1024;
  std::chrono::milliseconds blockTimeout{5000};     // publish() on a full queue
  std::chrono::milliseconds publishTimeout{10000};  // one run of the binary, then killed
};

class EventPublisher {
 public:
  explicit EventPublisher(const Options& options);
  explicit EventPublisher(PublisherConfig config);
  ~EventPublisher();  // close()
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  /// Queues `event` for `topic` (kTopic*). Thread-safe; never fails: problems are logged.
  /// After close() events are dropped (logged).
  void publish(const std::string& topic, const google::protobuf::Message& event);

  /// Stops taking events and waits up to `timeout` for the queued ones to be published; the
  /// rest are dropped (logged) and a publish still running is killed. Idempotent.
  void close(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

  /// Events whose publish failed or that were dropped, for tests and the log.
  size_t failures() const;

 private:
  struct Item {
    std::string topic;
    std::string payload;  // the serialized google.protobuf.Any
  };

  void run();
  /// Publishes one event; false when it failed (logged).
  bool publishOne(const Item& item);
  /// Forwards one event over containerd's ttrpc socket; an error when it cannot.
  Status forward(const Item& item);
  /// Runs the publish binary for one event; false when it failed (logged).
  bool runPublishBinary(const Item& item);

  const PublisherConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool busy_ = false;     // the worker is publishing an item taken off the queue
  bool closing_ = false;  // no new events
  bool abort_ = false;    // the worker stops at once, killing a running publish
  size_t failures_ = 0;
  std::unique_ptr<ttrpc::Client> ttrpc_;  // the worker's connection to containerd, once made
  std::thread worker_;
};

}  // namespace kata::shimv2
