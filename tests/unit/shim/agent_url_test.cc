#include "shim/agent_url.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "lib/temp_dir.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using kata::shim::AgentUrl;
using kata::shim::parseAgentUrl;

TEST_GROUP(AgentUrl){};

TEST(AgentUrl, UnixUrl) {
  auto u = parseAgentUrl("unix:///run/vc/sbs/abc/proxy.sock");
  CHECK_TRUE(u.ok());
  CHECK(u->scheme == AgentUrl::Scheme::Unix);
  STRCMP_EQUAL("/run/vc/sbs/abc/proxy.sock", u->path.c_str());
  STRCMP_EQUAL("unix:///run/vc/sbs/abc/proxy.sock", u->str().c_str());
}

TEST(AgentUrl, VsockUrl) {
  auto u = parseAgentUrl("vsock://4294967295:1024");
  CHECK_TRUE(u.ok());
  CHECK(u->scheme == AgentUrl::Scheme::Vsock);
  CHECK_EQUAL(4294967295u, u->cid);
  CHECK_EQUAL(1024u, u->port);
  STRCMP_EQUAL("vsock://4294967295:1024", u->str().c_str());
}

TEST(AgentUrl, RejectsMalformedUrls) {
  const char* bad[] = {"",
                       "proxy.sock",
                       "unix://",
                       "unix://relative/path",
                       "vsock://3",
                       "vsock://:1024",
                       "vsock://3:",
                       "vsock://-3:1024",
                       "vsock://3:+1",
                       "vsock://3:1024x",
                       "vsock://4294967296:1",
                       "vsock:// 3:1",
                       "http://localhost:1024"};
  for (const char* url : bad) {
    auto u = parseAgentUrl(url);
    if (u.ok()) FAIL((std::string("accepted ") + url).c_str());
    CHECK_FALSE(u.error().message.empty());
  }
}

TEST(AgentUrl, RejectsPathTooLongForSunPath) {
  std::string path = "/" + std::string(sizeof(sockaddr_un{}.sun_path), 'a');
  auto u = parseAgentUrl("unix://" + path);
  CHECK_FALSE(u.ok());
  STRCMP_CONTAINS("too long", u.error().str().c_str());
}

TEST(AgentUrl, DialsAUnixListener) {
  auto dir = kata::TempDir::create("kata-shim-url-");
  CHECK_TRUE(dir.ok());
  std::string path = dir->path() + "/agent.sock";
  kata::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  CHECK_EQUAL(0, ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  CHECK_EQUAL(0, ::listen(listener.get(), 1));

  auto fd = kata::shim::dialAgent(*parseAgentUrl("unix://" + path));
  CHECK_TRUE(fd.ok());
  kata::UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  CHECK_TRUE(peer.valid());
  CHECK_EQUAL(1, ::write(fd->get(), "x", 1));
  char c = 0;
  CHECK_EQUAL(1, ::read(peer.get(), &c, 1));
  CHECK_EQUAL('x', c);
}

TEST(AgentUrl, DialFailureNamesTheUrl) {
  auto fd = kata::shim::dialAgent(*parseAgentUrl("unix:///nonexistent/kata/proxy.sock"));
  CHECK_FALSE(fd.ok());
  STRCMP_CONTAINS("unix:///nonexistent/kata/proxy.sock", fd.error().str().c_str());
  CHECK_EQUAL(ENOENT, fd.error().code);
}
