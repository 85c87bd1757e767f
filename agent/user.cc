#include "agent/user.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <sstream>

#include "lib/parse.h"
#include "lib/safe_path.h"

namespace kata::agent {

namespace {

template <class T>
std::optional<T> parseId(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<gid_t> resolveGroup(const std::string& text, const std::vector<GroupEntry>& groups) {
  if (auto n = parseId<gid_t>(text)) return *n;
  for (const auto& g : groups) {
    if (g.name == text) return g.gid;
  }
  return makeError("group \"" + text + "\" not found in the container's /etc/group", ENOENT);
}

Result<std::string> readInRootfs(int rootFd, const char* path) {
  auto fd = safepath::openInRoot(rootFd, path, O_RDONLY);
  if (!fd.ok()) {
    if (fd.error().code == ENOENT) return std::string();
    return std::move(fd).error();
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError(std::string("read ") + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (4u << 20)) return makeError(std::string(path) + " is too large", EFBIG);
  }
  return text;
}

}  // namespace

std::vector<PasswdEntry> parsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = splitFields(line, ':');
    if (f.size() < 7) continue;
    auto uid = parseId<uid_t>(f[2]);
    auto gid = parseId<gid_t>(f[3]);
    if (!uid || !gid || f[0].empty()) continue;
    out.push_back({f[0], *uid, *gid, f[5]});
  }
  return out;
}

std::vector<GroupEntry> parseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = splitFields(line, ':');
    if (f.size() < 4) continue;
    auto gid = parseId<gid_t>(f[2]);
    if (!gid || f[0].empty()) continue;
    GroupEntry g{f[0], *gid, {}};
    if (!f[3].empty()) g.members = splitFields(f[3], ',');
    out.push_back(std::move(g));
  }
  return out;
}

Result<ResolvedUser> resolveUser(const UserRequest& request, std::string_view passwdText,
                                 std::string_view groupText) {
  auto users = parsePasswd(passwdText);
  auto groups = parseGroup(groupText);
  ResolvedUser out;
  out.uid = request.uid;
  out.gid = request.gid;
  out.additionalGids = request.additionalGids;
  bool gidFromUser = false;
  if (!request.uidString.empty()) {
    if (auto n = parseId<uid_t>(request.uidString)) {
      out.uid = *n;
    } else {
      const PasswdEntry* found = nullptr;
      for (const auto& u : users) {
        if (u.name == request.uidString) {
          found = &u;
          break;
        }
      }
      if (!found) {
        return makeError(
            "user \"" + request.uidString + "\" not found in the container's /etc/passwd", ENOENT);
      }
      out.uid = found->uid;
      out.gid = found->gid;
      gidFromUser = true;
    }
  }
  if (!request.gidString.empty()) {
    KATA_ASSIGN_OR_RETURN(out.gid, resolveGroup(request.gidString, groups));
  }
  (void)gidFromUser;  // a numeric uid string keeps the spec's gid
  for (const auto& s : request.additionalGidStrings) {
    KATA_ASSIGN_OR_RETURN(gid_t g, resolveGroup(s, groups));
    out.additionalGids.push_back(g);
  }
  out.home.assign(1, '/');
  for (const auto& u : users) {
    if (u.uid == out.uid) {
      if (!u.home.empty()) out.home.assign(u.home);
      break;
    }
  }
  return out;
}

Result<ResolvedUser> resolveUserInRootfs(const std::string& rootfs, const UserRequest& request) {
  KATA_ASSIGN_OR_RETURN(auto root, safepath::openRoot(rootfs));
  KATA_ASSIGN_OR_RETURN(auto passwd, readInRootfs(root.get(), "/etc/passwd"));
  KATA_ASSIGN_OR_RETURN(auto group, readInRootfs(root.get(), "/etc/group"));
  return resolveUser(request, passwd, group);
}

}  // namespace kata::agent
