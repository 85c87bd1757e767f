// Undo steps for a multi-step operation: each completed step registers how to undo itself;
// unless commit() is called, the destructor runs them in reverse so that a failure half-way
// leaves nothing behind (no process, mount or state dir).
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace kata::vc {

class Rollback {
 public:
  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> undo) { steps_.push_back(std::move(undo)); }
  void commit() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

}  // namespace kata::vc
