#include "runtime/containerd-shim-v2/metrics.h"

#include <string>

namespace kata::shimv2 {
namespace {

namespace cg = ::io::containerd::cgroups::v1;

void copyBlkio(const google::protobuf::RepeatedPtrField<::grpc::BlkioStatsEntry>& from,
               google::protobuf::RepeatedPtrField<cg::BlkIOEntry>* to) {
  for (const auto& e : from) {
    auto* out = to->Add();
    out->set_op(e.op());
    out->set_major(e.major());
    out->set_minor(e.minor());
    out->set_value(e.value());
  }
}

void copyMemoryEntry(const ::grpc::MemoryData& from, cg::MemoryEntry* to) {
  to->set_limit(from.limit());
  to->set_usage(from.usage());
  to->set_max(from.max_usage());
  to->set_failcnt(from.failcnt());
}

}  // namespace

cg::Metrics toMetrics(const ::grpc::StatsContainerResponse& stats) {
  cg::Metrics m;
  const auto& s = stats.cgroup_stats();

  const auto& cpu = s.cpu_stats();
  auto* usage = m.mutable_cpu()->mutable_usage();
  usage->set_total(cpu.cpu_usage().total_usage());
  usage->set_kernel(cpu.cpu_usage().usage_in_kernelmode());
  usage->set_user(cpu.cpu_usage().usage_in_usermode());
  for (uint64_t v : cpu.cpu_usage().percpu_usage()) usage->add_per_cpu(v);
  auto* thr = m.mutable_cpu()->mutable_throttling();
  thr->set_periods(cpu.throttling_data().periods());
  thr->set_throttled_periods(cpu.throttling_data().throttled_periods());
  thr->set_throttled_time(cpu.throttling_data().throttled_time());

  const auto& mem = s.memory_stats();
  auto* mo = m.mutable_memory();
  mo->set_cache(mem.cache());
  copyMemoryEntry(mem.usage(), mo->mutable_usage());
  copyMemoryEntry(mem.swap_usage(), mo->mutable_swap());
  copyMemoryEntry(mem.kernel_usage(), mo->mutable_kernel());
  // memory.stat's keys, as cgroup v1 names them.
  const auto& st = mem.stats();
  auto get = [&st](const char* key) -> uint64_t {
    auto it = st.find(key);
    return it == st.end() ? 0 : it->second;
  };
  mo->set_rss(get("rss"));
  mo->set_rss_huge(get("rss_huge"));
  mo->set_mapped_file(get("mapped_file"));
  mo->set_dirty(get("dirty"));
  mo->set_writeback(get("writeback"));
  mo->set_pg_pg_in(get("pgpgin"));
  mo->set_pg_pg_out(get("pgpgout"));
  mo->set_pg_fault(get("pgfault"));
  mo->set_pg_maj_fault(get("pgmajfault"));
  mo->set_inactive_anon(get("inactive_anon"));
  mo->set_active_anon(get("active_anon"));
  mo->set_inactive_file(get("inactive_file"));
  mo->set_active_file(get("active_file"));
  mo->set_unevictable(get("unevictable"));
  mo->set_hierarchical_memory_limit(get("hierarchical_memory_limit"));
  mo->set_hierarchical_swap_limit(get("hierarchical_memsw_limit"));
  mo->set_total_cache(get("total_cache"));
  mo->set_total_rss(get("total_rss"));
  mo->set_total_rss_huge(get("total_rss_huge"));
  mo->set_total_mapped_file(get("total_mapped_file"));
  mo->set_total_dirty(get("total_dirty"));
  mo->set_total_writeback(get("total_writeback"));
  mo->set_total_pg_pg_in(get("total_pgpgin"));
  mo->set_total_pg_pg_out(get("total_pgpgout"));
  mo->set_total_pg_fault(get("total_pgfault"));
  mo->set_total_pg_maj_fault(get("total_pgmajfault"));
  mo->set_total_inactive_anon(get("total_inactive_anon"));
  mo->set_total_active_anon(get("total_active_anon"));
  mo->set_total_inactive_file(get("total_inactive_file"));
  mo->set_total_active_file(get("total_active_file"));
  mo->set_total_unevictable(get("total_unevictable"));

  m.mutable_pids()->set_current(s.pids_stats().current());
  m.mutable_pids()->set_limit(s.pids_stats().limit());

  const auto& b = s.blkio_stats();
  auto* bo = m.mutable_blkio();
  copyBlkio(b.io_service_bytes_recursive(), bo->mutable_io_service_bytes_recursive());
  copyBlkio(b.io_serviced_recursive(), bo->mutable_io_serviced_recursive());
  copyBlkio(b.io_queued_recursive(), bo->mutable_io_queued_recursive());
  copyBlkio(b.io_service_time_recursive(), bo->mutable_io_service_time_recursive());
  copyBlkio(b.io_wait_time_recursive(), bo->mutable_io_wait_time_recursive());
  copyBlkio(b.io_merged_recursive(), bo->mutable_io_merged_recursive());
  copyBlkio(b.io_time_recursive(), bo->mutable_io_time_recursive());
  copyBlkio(b.sectors_recursive(), bo->mutable_sectors_recursive());

  for (const auto& [pageSize, h] : s.hugetlb_stats()) {
    auto* out = m.add_hugetlb();
    out->set_pagesize(pageSize);
    out->set_usage(h.usage());
    out->set_max(h.max_usage());
    out->set_failcnt(h.failcnt());
  }
  for (const auto& n : stats.network_stats()) {
    auto* out = m.add_network();
    out->set_name(n.name());
    out->set_rx_bytes(n.rx_bytes());
    out->set_rx_packets(n.rx_packets());
    out->set_rx_errors(n.rx_errors());
    out->set_rx_dropped(n.rx_dropped());
    out->set_tx_bytes(n.tx_bytes());
    out->set_tx_packets(n.tx_packets());
    out->set_tx_errors(n.tx_errors());
    out->set_tx_dropped(n.tx_dropped());
  }
  return m;
}

}  // namespace kata::shimv2
