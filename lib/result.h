// One error type for the whole project: a Result<T> holds either a value or an Error carrying
// errno (0 when not a system error), a message and the context it was raised in.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace kata {

struct Error {
  int code = 0;         // errno value (also a category for validation errors), 0 when none
  std::string message;  // what failed, with its context ("open /x/config.json")
  bool systemCall = false;  // a failed system call: strerror(code) completes the message

  /// One line for users: "message: strerror(code)" for failed system calls, else the message.
  std::string str() const {
    if (!systemCall || code == 0) return message;
    return message + ": " + std::strerror(code);
  }
  /// Prefixes the message with the context of the caller ("create sandbox: ...").
  Error&& wrap(const std::string& context) && {
    message = context + ": " + message;
    return std::move(*this);
  }
};

/// A failed system call, from the current errno.
inline Error sysError(std::string message) { return Error{errno, std::move(message), true}; }
/// A failed system call whose errno is given (a child's, a library's negative return).
inline Error sysError(std::string message, int code) {
  return Error{code, std::move(message), true};
}
/// Any other error: the message says it all; `code` (an errno) classifies it for callers and
/// exit statuses.
inline Error makeError(std::string message, int code = 0) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() { return Status(); }

}  // namespace kata

/// Evaluates a Result-returning expression; on error returns the error from the caller.
#define KATA_TRY(expr)                                     \
  do {                                                     \
    auto kata_try_r_ = (expr);                             \
    if (!kata_try_r_.ok()) return std::move(kata_try_r_).error(); \
  } while (0)

/// Like KATA_TRY but prefixes the error with a context string.
#define KATA_TRY_CTX(expr, ctx)                                        \
  do {                                                                 \
    auto kata_try_r_ = (expr);                                         \
    if (!kata_try_r_.ok()) return std::move(kata_try_r_).error().wrap(ctx) ; \
  } while (0)

#define KATA_CONCAT_INNER_(a, b) a##b
#define KATA_CONCAT_(a, b) KATA_CONCAT_INNER_(a, b)
/// Declares `lhs` from a Result<T> expression, returning the error from the caller on failure:
///   KATA_ASSIGN_OR_RETURN(auto spec, oci::loadSpec(path));
#define KATA_ASSIGN_OR_RETURN(lhs, expr) \
  KATA_ASSIGN_OR_RETURN_IMPL_(KATA_CONCAT_(kata_aor_, __LINE__), lhs, expr)
#define KATA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).error();     \
  lhs = std::move(tmp).value()
