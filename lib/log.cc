#include "lib/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "lib/capped_file.h"
#include "lib/unique_fd.h"

namespace kata::log {
namespace {

struct State {
  std::mutex mu;
  Options opts;
  UniqueFd file;
  CappedFile capped;  // attached when opts.maxFileBytes > 0
  bool syslogOpen = false;
};

State& state() {
  static State* s = new State();  // never destroyed: logging may happen during exit
  return *s;
}

// logrus quotes a text value unless every byte is one of these.
bool needsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^' ||
                 c == '+';
    if (!plain) return true;
  }
  return false;
}

void appendEscaped(std::string& out, std::string_view v) {
  static const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < v.size(); i++) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    // DEL and the C1 controls (U+0080..U+009F, 0xc2 0x80..0x9f in UTF-8) act on terminals
    // too; text logs go to one with --debug. \u escapes keep JSON lines valid.
    if (c == 0x7f || (c == 0xc2 && i + 1 < v.size() && (uint8_t(v[i + 1]) & 0xe0) == 0x80)) {
      unsigned char cp = c == 0x7f ? c : uint8_t(v[++i]);
      out += "\\u00";
      out += hex[cp >> 4];
      out += hex[cp & 0xf];
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void appendTextValue(std::string& out, std::string_view v) {
  if (!needsQuoting(v)) {
    out += v;
    return;
  }
  out += '"';
  appendEscaped(out, v);
  out += '"';
}

int syslogPriority(Level l) {
  switch (l) {
    case Level::Trace:
    case Level::Debug: return LOG_DEBUG;
    case Level::Info: return LOG_INFO;
    case Level::Warn: return LOG_WARNING;
    case Level::Error: return LOG_ERR;
    case Level::Fatal: return LOG_CRIT;
  }
  return LOG_INFO;
}

}  // namespace

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Trace: return "trace";
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
    case Level::Fatal: return "fatal";
  }
  return "info";
}

Result<Level> parseLevel(std::string_view t) {
  if (t == "trace") return Level::Trace;
  if (t == "debug") return Level::Debug;
  if (t == "info") return Level::Info;
  if (t == "warn" || t == "warning") return Level::Warn;
  if (t == "error") return Level::Error;
  if (t == "fatal" || t == "panic") return Level::Fatal;
  return makeError("unknown log level \"" + std::string(t) + "\"", EINVAL);
}

Result<Format> parseFormat(std::string_view t) {
  if (t == "text") return Format::Text;
  if (t == "json") return Format::Json;
  return makeError("unknown log format \"" + std::string(t) + "\" (want text or json)", EINVAL);
}

std::string timestamp() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string formatLine(Format format, Level level, std::string_view msg, const Fields& fields,
                       std::string_view time) {
  std::string out;
  out.reserve(128 + msg.size());
  if (format == Format::Json) {
    // Go encodes map keys sorted, so logrus' JSON lines are sorted by key.
    Fields all = fields;
    all.emplace_back("level", std::string(levelName(level)));
    all.emplace_back("msg", std::string(msg));
    all.emplace_back("time", std::string(time));
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    bool first = true;
    for (const auto& [k, v] : all) {
      if (!first) out += ',';
      first = false;
      out += '"';
      appendEscaped(out, k);
      out += "\":\"";
      appendEscaped(out, v);
      out += '"';
    }
    out += '}';
    return out;
  }
  out += "time=\"";
  out += time;
  out += "\" level=";
  out += levelName(level);
  out += " msg=";
  appendTextValue(out, msg);
  Fields sorted = fields;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, v] : sorted) {
    out += ' ';
    out += k;
    out += '=';
    appendTextValue(out, v);
  }
  return out;
}

Status init(const Options& options) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.opts = options;
  s.capped = CappedFile();
  s.file.reset();
  if (!options.path.empty()) {
    // Read-write for a capped log, which reads its newest half back (lib/capped_file.h).
    int mode = options.maxFileBytes > 0 ? O_RDWR : O_WRONLY;
    int fd = ::open(options.path.c_str(), mode | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return sysError("open log file " + options.path);
    s.file.reset(fd);
  }
  if (options.maxFileBytes > 0) {
    int fd = s.file.valid() ? s.file.get() : options.fd;
    const Format format = options.format;
    const uint64_t max = options.maxFileBytes;
    Fields who = {{"name", options.name}, {"source", options.source}};
    // The marker is a log line of the same format, so that log readers keep parsing.
    s.capped.attach(fd, max, [format, max, who](uint64_t dropped) {
      return formatLine(format, Level::Warn,
                        "log file kept under " + std::to_string(max) +
                            " bytes: " + std::to_string(dropped) + " older bytes dropped",
                        who, timestamp()) +
             "\n";
    });
  }
  if (options.syslog && !s.syslogOpen && access("/dev/log", W_OK) == 0) {
    openlog(options.name.c_str(), LOG_PID | LOG_NDELAY, LOG_USER);
    s.syslogOpen = true;
  }
  return okStatus();
}

void setLevel(Level level) {
  std::lock_guard lock(state().mu);
  state().opts.level = level;
}

Level level() {
  std::lock_guard lock(state().mu);
  return state().opts.level;
}

void addField(std::string key, std::string value) {
  State& s = state();
  std::lock_guard lock(s.mu);
  for (auto& f : s.opts.fields) {
    if (f.first == key) {
      f.second = std::move(value);
      return;
    }
  }
  s.opts.fields.emplace_back(std::move(key), std::move(value));
}

void write(Level level, std::string_view msg, const Fields& fields) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (level < s.opts.level) return;
  Fields all = s.opts.fields;
  if (!s.opts.name.empty()) all.emplace_back("name", s.opts.name);
  if (!s.opts.source.empty()) all.emplace_back("source", s.opts.source);
  all.emplace_back("pid", std::to_string(getpid()));
  // A field given with the line replaces a process-wide one of the same key (the proxy relays
  // guest lines with source=agent instead of its own source=proxy).
  for (const auto& f : fields) {
    auto same = std::find_if(all.begin(), all.end(), [&f](const auto& g) { return g.first == f.first; });
    if (same != all.end()) {
      same->second = f.second;
    } else {
      all.push_back(f);
    }
  }
  std::string line = formatLine(s.opts.format, level, msg, all, timestamp());
  line += '\n';
  int fd = s.file.valid() ? s.file.get() : s.opts.fd;
  if (s.capped.attached()) {
    (void)s.capped.append(line);  // nowhere to report a failure to write the log
  } else if (fd >= 0) {
    // One write per line: O_APPEND keeps concurrent writers' lines whole.
    ssize_t ignored = ::write(fd, line.data(), line.size());
    (void)ignored;
  }
  if (s.syslogOpen) syslog(syslogPriority(level), "%s", line.c_str());
}

}  // namespace kata::log
