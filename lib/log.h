// Process-wide logger writing logrus-compatible lines, as Kata and runc do:
//   text: time="2026-11-25T22:40:00.123456789Z" level=info msg="..." name=kata-runtime ...
//   json: {"level":"error","msg":"...","name":"kata-runtime","time":"..."}
// containerd's shim reads the last "level":"error" line of the runtime's --log file and shows
// its msg to the user, so errors must always reach the configured output.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/result.h"

namespace kata::log {

enum class Level { Trace, Debug, Info, Warn, Error, Fatal };
enum class Format { Text, Json };
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Options {
  std::string name;    // binary name, e.g. "kata-runtime"
  std::string source;  // component, e.g. "runtime", "proxy", "shim", "agent"
  Level level = Level::Info;
  Format format = Format::Text;
  std::string path;     // log file (appended); empty = the fd below
  int fd = 2;           // used when path is empty; -1 disables
  bool syslog = false;  // also send to syslog when /dev/log exists (never required)
  Fields fields;        // added to every line (sandbox=..., container=...)
  /// When the output is a regular file: keep it under this many bytes, dropping the oldest
  /// lines (lib/capped_file.h); 0 = unbounded. For logs that carry guest-controlled lines.
  uint64_t maxFileBytes = 0;
};

/// Configures the process logger. Fails only when `path` cannot be opened.
Status init(const Options& options);
void setLevel(Level level);
Level level();
/// Adds a field to every following line (replacing one of the same key).
void addField(std::string key, std::string value);

/// Parses "trace|debug|info|warn|warning|error|fatal".
Result<Level> parseLevel(std::string_view text);
/// Parses "text|json".
Result<Format> parseFormat(std::string_view text);
std::string_view levelName(Level level);

/// Formats one line (no trailing newline). `time` is RFC 3339 with nanoseconds.
std::string formatLine(Format format, Level level, std::string_view msg, const Fields& fields,
                       std::string_view time);
/// The current time as logrus writes it (UTC, RFC 3339 with nanoseconds).
std::string timestamp();

void write(Level level, std::string_view msg, const Fields& fields = {});
inline void trace(std::string_view m, const Fields& f = {}) { write(Level::Trace, m, f); }
inline void debug(std::string_view m, const Fields& f = {}) { write(Level::Debug, m, f); }
inline void info(std::string_view m, const Fields& f = {}) { write(Level::Info, m, f); }
inline void warn(std::string_view m, const Fields& f = {}) { write(Level::Warn, m, f); }
inline void error(std::string_view m, const Fields& f = {}) { write(Level::Error, m, f); }

}  // namespace kata::log
