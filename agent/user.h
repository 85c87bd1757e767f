// Users and groups of a container: the runtime may name them ("nobody", "1000:wheel"), and the
// names are resolved through the container's own /etc/passwd and /etc/group, read through the
// safe path resolver (the rootfs is untrusted).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata::agent {

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

/// Parses passwd(5) text; malformed lines are skipped.
std::vector<PasswdEntry> parsePasswd(std::string_view text);
/// Parses group(5) text; malformed lines are skipped.
std::vector<GroupEntry> parseGroup(std::string_view text);

/// The resolved identity a container process runs with.
struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additionalGids;
  std::string home;  // from passwd, "/" when unknown
};

/// What the request asked for: numbers from the OCI spec, optionally overridden by strings
/// (numbers or names) from StringUser or Process.User.Username.
struct UserRequest {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additionalGids;
  std::string uidString;  // "" = use uid
  std::string gidString;  // "" = use gid (or the user's primary group when uidString names one)
  std::vector<std::string> additionalGidStrings;
};

/// Resolves `request` against the passwd/group texts of the container (either may be empty when
/// the file does not exist). Unknown names are errors naming them.
Result<ResolvedUser> resolveUser(const UserRequest& request, std::string_view passwd,
                                 std::string_view group);

/// Reads <rootfs>/etc/passwd and <rootfs>/etc/group through safepath and resolves `request`.
Result<ResolvedUser> resolveUserInRootfs(const std::string& rootfs, const UserRequest& request);

}  // namespace kata::agent
