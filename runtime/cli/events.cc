// kata-runtime events: container statistics as runc's JSON events, once (--stats) or every
// --interval until the container stops.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "lib/parse.h"
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Json::Value memoryEntry(const ::grpc::MemoryData& m) {
  Json::Value v(Json::objectValue);
  v["usage"] = Json::UInt64(m.usage());
  v["max"] = Json::UInt64(m.max_usage());
  v["failcnt"] = Json::UInt64(m.failcnt());
  v["limit"] = Json::UInt64(m.limit());
  return v;
}

Json::Value blkioEntries(const google::protobuf::RepeatedPtrField<::grpc::BlkioStatsEntry>& list) {
  Json::Value a(Json::arrayValue);
  for (const auto& e : list) {
    Json::Value v(Json::objectValue);
    v["major"] = Json::UInt64(e.major());
    v["minor"] = Json::UInt64(e.minor());
    v["op"] = e.op();
    v["value"] = Json::UInt64(e.value());
    a.append(v);
  }
  return a;
}

// The stats in the shape runc's `events` prints (libcontainer's types.Stats).
Json::Value statsEvent(const std::string& id, const ::grpc::StatsContainerResponse& s) {
  const auto& cg = s.cgroup_stats();
  Json::Value d(Json::objectValue);
  Json::Value& cpu = d["cpu"];
  cpu["usage"]["total"] = Json::UInt64(cg.cpu_stats().cpu_usage().total_usage());
  cpu["usage"]["kernel"] = Json::UInt64(cg.cpu_stats().cpu_usage().usage_in_kernelmode());
  cpu["usage"]["user"] = Json::UInt64(cg.cpu_stats().cpu_usage().usage_in_usermode());
  Json::Value percpu(Json::arrayValue);
  for (uint64_t u : cg.cpu_stats().cpu_usage().percpu_usage()) percpu.append(Json::UInt64(u));
  cpu["usage"]["percpu"] = percpu;
  cpu["throttling"]["periods"] = Json::UInt64(cg.cpu_stats().throttling_data().periods());
  cpu["throttling"]["throttledPeriods"] =
      Json::UInt64(cg.cpu_stats().throttling_data().throttled_periods());
  cpu["throttling"]["throttledTime"] = Json::UInt64(cg.cpu_stats().throttling_data().throttled_time());
  Json::Value& mem = d["memory"];
  mem["cache"] = Json::UInt64(cg.memory_stats().cache());
  mem["usage"] = memoryEntry(cg.memory_stats().usage());
  mem["swap"] = memoryEntry(cg.memory_stats().swap_usage());
  mem["kernel"] = memoryEntry(cg.memory_stats().kernel_usage());
  Json::Value raw(Json::objectValue);
  for (const auto& [k, v] : cg.memory_stats().stats()) raw[k] = Json::UInt64(v);
  mem["raw"] = raw;
  d["pids"]["current"] = Json::UInt64(cg.pids_stats().current());
  d["pids"]["limit"] = Json::UInt64(cg.pids_stats().limit());
  const auto& b = cg.blkio_stats();
  d["blkio"]["ioServiceBytesRecursive"] = blkioEntries(b.io_service_bytes_recursive());
  d["blkio"]["ioServicedRecursive"] = blkioEntries(b.io_serviced_recursive());
  d["blkio"]["ioQueueRecursive"] = blkioEntries(b.io_queued_recursive());
  d["blkio"]["ioServiceTimeRecursive"] = blkioEntries(b.io_service_time_recursive());
  d["blkio"]["ioWaitTimeRecursive"] = blkioEntries(b.io_wait_time_recursive());
  d["blkio"]["ioMergedRecursive"] = blkioEntries(b.io_merged_recursive());
  d["blkio"]["ioTimeRecursive"] = blkioEntries(b.io_time_recursive());
  d["blkio"]["sectorsRecursive"] = blkioEntries(b.sectors_recursive());
  Json::Value huge(Json::objectValue);
  for (const auto& [size, h] : cg.hugetlb_stats()) {
    huge[size]["usage"] = Json::UInt64(h.usage());
    huge[size]["max"] = Json::UInt64(h.max_usage());
    huge[size]["failcnt"] = Json::UInt64(h.failcnt());
  }
  d["hugetlb"] = huge;
  Json::Value nets(Json::arrayValue);
  for (const auto& n : s.network_stats()) {
    Json::Value v(Json::objectValue);
    v["name"] = n.name();
    v["rx_bytes"] = Json::UInt64(n.rx_bytes());
    v["rx_packets"] = Json::UInt64(n.rx_packets());
    v["rx_errors"] = Json::UInt64(n.rx_errors());
    v["rx_dropped"] = Json::UInt64(n.rx_dropped());
    v["tx_bytes"] = Json::UInt64(n.tx_bytes());
    v["tx_packets"] = Json::UInt64(n.tx_packets());
    v["tx_errors"] = Json::UInt64(n.tx_errors());
    v["tx_dropped"] = Json::UInt64(n.tx_dropped());
    nets.append(v);
  }
  d["network_interfaces"] = nets;
  Json::Value ev(Json::objectValue);
  ev["type"] = "stats";
  ev["id"] = id;
  ev["data"] = d;
  return ev;
}

// A Go duration ("5s", "250ms", "1m30s"), as runc's --interval; zero would spin.
Result<std::chrono::nanoseconds> parseInterval(const std::string& text) {
  KATA_ASSIGN_OR_RETURN(auto interval, parseDuration(text, "--interval"));
  if (interval.count() == 0) return makeError("--interval must be above zero", EINVAL);
  return interval;
}

Result<int> eventsVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  const std::string id = ctx.args.positional[0];
  KATA_ASSIGN_OR_RETURN(bool once, ctx.args.flag("stats"));
  KATA_ASSIGN_OR_RETURN(auto interval, parseInterval(ctx.args.get("interval", "5s")));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  for (;;) {
    auto stats = vc::containerStats(rc, id);
    if (!stats.ok()) {
      if (once) return std::move(stats).error();
      return 0;  // the container stopped: the event stream ends, as with runc
    }
    std::string line = Json::writeString(w, statsEvent(id, *stats));
    // The guest names interfaces, stats keys and blkio ops: jsoncpp escapes every control byte
    // in them but DEL, which must not reach a terminal raw either.
    for (size_t at = line.find('\x7f'); at != std::string::npos; at = line.find('\x7f', at))
      line.replace(at, 1, "\\u007f");
    printf("%s\n", line.c_str());
    fflush(stdout);
    if (once) return 0;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace

const Command kEventsCommand = {
    "events", "events [command options] <container-id>",
    "Display container events such as OOM notifications, CPU, memory and IO usage statistics",
    {{{"interval"}, true, "set the stats collection interval (default 5s)"},
     {{"stats"}, false, "display the container's stats then exit"}},
    eventsVerb};

}  // namespace kata::cli
