// Fuzz target for the DNS relay's checks (lib/dns_message.h): the queries a hostile container
// sends the agent, the answers a hostile host side returns, and the DNS-over-TCP byte stream a
// hostile guest sends kata-proxy. Input: byte 0 splits the rest into a query and an answer.
// Whatever arrives, nothing reads out of bounds and what the relay makes stays small.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "lib/dns_message.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kata;
using kata::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> rest(data + 1, size - 1);
  const size_t cut = std::min<size_t>(rest.size(), size_t(data[0]) * 8);
  std::span<const uint8_t> query = rest.first(cut), answer = rest.subspan(cut);
  (void)dns::isQuery(query);
  if (auto end = dns::questionsEnd(query)) check(*end <= query.size());
  const size_t limit = dns::udpAnswerLimit(query);
  check(limit >= dns::kClassicUdpSize && limit <= 65535);
  check(dns::serverFailure(query).size() <= std::max(query.size(), dns::kHeaderSize));
  check(dns::truncatedAnswer(query, answer).size() <= std::max(query.size(), dns::kHeaderSize));
  dns::TcpQueryFraming framing;
  for (size_t at = 0; at < rest.size(); at += 7)
    (void)framing.feed(rest.subspan(at, std::min<size_t>(7, rest.size() - at)));
  (void)dns::resolvConfNamesDockerDns(
      std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
  return 0;
}
