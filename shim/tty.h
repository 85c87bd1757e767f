// Terminal handling for kata-shim's -terminal mode: the runtime hands the shim the pty slave as
// stdio, and the guest's pty already does all line discipline, so the host side must be raw.
#pragma once

#include <termios.h>

#include <cstdint>

#include "lib/result.h"

namespace kata::shim {

/// Puts a terminal in raw mode and restores its previous settings when destroyed.
class RawTerminal {
 public:
  RawTerminal() = default;
  RawTerminal(RawTerminal&& other) noexcept;
  RawTerminal& operator=(RawTerminal&& other) noexcept;
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal();

  /// Fails with ENOTTY when `fd` is not a terminal.
  static Result<RawTerminal> enable(int fd);
  /// Restores the saved settings now (idempotent).
  void restore();

 private:
  int fd_ = -1;
  termios saved_{};
};

struct WindowSize {
  uint16_t rows = 0;
  uint16_t columns = 0;
};

/// The window size of the terminal `fd` (TIOCGWINSZ).
Result<WindowSize> windowSize(int fd);

}  // namespace kata::shim
