// The agent's statistics as containerd's cgroup v1 metrics: every field lands where containerd
// (ctr task metrics, CRI stats) reads it.
#include "runtime/containerd-shim-v2/metrics.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata::shimv2;

TEST_GROUP(ShimV2Metrics){};

TEST(ShimV2Metrics, CarriesCpuMemoryPidsBlkioHugetlbAndNetwork) {
  ::grpc::StatsContainerResponse in;
  auto* cg = in.mutable_cgroup_stats();
  auto* cpu = cg->mutable_cpu_stats();
  cpu->mutable_cpu_usage()->set_total_usage(1000);
  cpu->mutable_cpu_usage()->set_usage_in_kernelmode(300);
  cpu->mutable_cpu_usage()->set_usage_in_usermode(700);
  cpu->mutable_cpu_usage()->add_percpu_usage(600);
  cpu->mutable_cpu_usage()->add_percpu_usage(400);
  cpu->mutable_throttling_data()->set_throttled_periods(7);
  auto* mem = cg->mutable_memory_stats();
  mem->set_cache(4096);
  mem->mutable_usage()->set_usage(5 << 20);
  mem->mutable_usage()->set_max_usage(6 << 20);
  mem->mutable_usage()->set_limit(256 << 20);
  mem->mutable_usage()->set_failcnt(2);
  mem->mutable_swap_usage()->set_usage(123);
  (*mem->mutable_stats())["rss"] = 777;
  (*mem->mutable_stats())["total_pgmajfault"] = 9;
  (*mem->mutable_stats())["hierarchical_memory_limit"] = 268435456;
  cg->mutable_pids_stats()->set_current(3);
  cg->mutable_pids_stats()->set_limit(100);
  auto* io = cg->mutable_blkio_stats()->add_io_service_bytes_recursive();
  io->set_major(254);
  io->set_minor(1);
  io->set_op("Read");
  io->set_value(8192);
  (*cg->mutable_hugetlb_stats())["2MB"].set_usage(2097152);
  auto* net = in.add_network_stats();
  net->set_name("eth0");
  net->set_rx_bytes(11);
  net->set_tx_packets(12);

  auto m = toMetrics(in);
  LONGS_EQUAL(1000, m.cpu().usage().total());
  LONGS_EQUAL(300, m.cpu().usage().kernel());
  LONGS_EQUAL(700, m.cpu().usage().user());
  LONGS_EQUAL(2, m.cpu().usage().per_cpu_size());
  LONGS_EQUAL(400, m.cpu().usage().per_cpu(1));
  LONGS_EQUAL(7, m.cpu().throttling().throttled_periods());
  LONGS_EQUAL(4096, m.memory().cache());
  LONGS_EQUAL(5 << 20, m.memory().usage().usage());
  LONGS_EQUAL(6 << 20, m.memory().usage().max());
  LONGS_EQUAL(256 << 20, m.memory().usage().limit());
  LONGS_EQUAL(2, m.memory().usage().failcnt());
  LONGS_EQUAL(123, m.memory().swap().usage());
  LONGS_EQUAL(777, m.memory().rss());
  LONGS_EQUAL(9, m.memory().total_pg_maj_fault());
  LONGS_EQUAL(268435456, m.memory().hierarchical_memory_limit());
  LONGS_EQUAL(0, m.memory().dirty());  // absent keys are 0
  LONGS_EQUAL(3, m.pids().current());
  LONGS_EQUAL(100, m.pids().limit());
  LONGS_EQUAL(1, m.blkio().io_service_bytes_recursive_size());
  STRCMP_EQUAL("Read", m.blkio().io_service_bytes_recursive(0).op().c_str());
  LONGS_EQUAL(254, m.blkio().io_service_bytes_recursive(0).major());
  LONGS_EQUAL(8192, m.blkio().io_service_bytes_recursive(0).value());
  LONGS_EQUAL(1, m.hugetlb_size());
  STRCMP_EQUAL("2MB", m.hugetlb(0).pagesize().c_str());
  LONGS_EQUAL(2097152, m.hugetlb(0).usage());
  LONGS_EQUAL(1, m.network_size());
  STRCMP_EQUAL("eth0", m.network(0).name().c_str());
  LONGS_EQUAL(11, m.network(0).rx_bytes());
  LONGS_EQUAL(12, m.network(0).tx_packets());
}
