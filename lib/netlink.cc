#include "lib/netlink.h"

#include <arpa/inet.h>

namespace kata::nl {

Error nlError(int rc, const std::string& what) {
  int code = EIO;
  switch (-rc) {
    case NLE_EXIST:
      code = EEXIST;
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      code = ENOENT;
      break;
    case NLE_INVAL:
    case NLE_RANGE:
    case NLE_AF_NOSUPPORT:
      code = EINVAL;
      break;
    case NLE_PERM:
      code = EPERM;
      break;
    case NLE_BUSY:
      code = EBUSY;
      break;
    case NLE_NOADDR:
      code = EADDRNOTAVAIL;
      break;
    default:
      break;
  }
  return makeError(what + ": " + nl_geterror(rc), code);
}

Result<SockPtr> connectRoute() {
  SockPtr sk(nl_socket_alloc());
  if (!sk) return makeError("netlink socket: out of memory", ENOMEM);
  if (int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0) return nlError(rc, "netlink connect");
  return sk;
}

Result<CachePtr> linkCache(nl_sock* sk) {
  nl_cache* c = nullptr;
  if (int rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &c); rc < 0) return nlError(rc, "list links");
  return CachePtr(c);
}

Result<CachePtr> addrCache(nl_sock* sk) {
  nl_cache* c = nullptr;
  if (int rc = rtnl_addr_alloc_cache(sk, &c); rc < 0) return nlError(rc, "list addresses");
  return CachePtr(c);
}

Result<CachePtr> routeCache(nl_sock* sk) {
  nl_cache* c = nullptr;
  if (int rc = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &c); rc < 0) {
    return nlError(rc, "list routes");
  }
  return CachePtr(c);
}

std::string addrText(nl_addr* a, bool withPrefix) {
  if (!a) return "";
  // A message may carry an address attribute of any length; inet_ntop (ours and libnl's)
  // reads 4 or 16 bytes whatever it holds.
  const int family = nl_addr_get_family(a);
  const unsigned len = nl_addr_get_len(a);
  if ((family == AF_INET && len != 4) || (family == AF_INET6 && len != 16)) return "";
  char buf[128];
  if (!withPrefix) {
    // nl_addr2str appends "/len" when the prefix is shorter than the address.
    char ip[INET6_ADDRSTRLEN] = {};
    if ((family == AF_INET || family == AF_INET6) &&
        ::inet_ntop(family, nl_addr_get_binary_addr(a), ip, sizeof ip)) {
      return ip;
    }
  }
  return nl_addr2str(a, buf, sizeof buf);
}

}  // namespace kata::nl
