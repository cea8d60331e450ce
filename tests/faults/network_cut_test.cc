// Network cut: worker A runs in a network namespace of its own and reaches
// PostgreSQL through a TCP proxy on the other end of a veth pair; worker B is
// on the server's unix socket. The proxy first drops every connection (a
// reset), then the link is black-holed (blackhole routes on both ends: packets
// vanish, nobody answers) for a while and healed. Promise: A reconnects by
// itself, its leases run out and B runs its jobs, nothing is lost, and no job
// runs a second time while the lease of its first run could still be live.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string DsnField(const std::string& dsn, const std::string& key) {
  size_t at = dsn.find(key + "=");
  if (at == std::string::npos) return "";
  size_t from = at + key.size() + 1;
  return dsn.substr(from, dsn.find(' ', from) - from);
}

// Forwards TCP connections on address:port to a unix socket, one thread,
// poll() over every pair. Drop() resets every connection at once.
class TcpProxy {
 public:
  TcpProxy(const std::string& address, const std::string& unix_path) : unix_path_(unix_path) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("proxy: cannot listen on " + address);
    }
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) Close(p, false);
    close(listen_fd_);
  }
  int port() const { return port_; }
  void Drop() { drop_ = true; }
  int accepted() const { return accepted_; }

 private:
  struct Pair {
    int tcp = -1, unix_fd = -1;
  };
  static void Close(Pair& p, bool reset) {
    if (reset) {
      linger l{1, 0};  // close with RST
      setsockopt(p.tcp, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(p.tcp);
    close(p.unix_fd);
    p.tcp = p.unix_fd = -1;
  }
  static bool Pump(int from, int to) {
    char buf[65536];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) return false;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(to, buf + done, static_cast<size_t>(n - done));
      if (w <= 0) return false;
      done += w;
    }
    return true;
  }
  void Accept() {
    int tcp = accept(listen_fd_, nullptr, nullptr);
    if (tcp < 0) return;
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", unix_path_.c_str());
    if (connect(u, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(u);
      close(tcp);
      return;
    }
    pairs_.push_back({tcp, u});
    ++accepted_;
  }
  void Loop() {
    while (!stop_) {
      if (drop_.exchange(false)) {
        for (auto& p : pairs_) Close(p, true);
        pairs_.clear();
      }
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (const Pair& p : pairs_) {
        fds.push_back({p.tcp, POLLIN, 0});
        fds.push_back({p.unix_fd, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) Accept();
      for (size_t i = 0; i + 1 < fds.size() && i / 2 < pairs_.size(); i += 2) {
        Pair& p = pairs_[i / 2];
        bool ok = true;
        if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) ok = Pump(p.tcp, p.unix_fd);
        if (ok && (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) ok = Pump(p.unix_fd, p.tcp);
        if (!ok) Close(p, false);
      }
      std::erase_if(pairs_, [](const Pair& p) { return p.tcp < 0; });
    }
  }

  std::string unix_path_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<Pair> pairs_;
  std::atomic<bool> stop_{false}, drop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A network namespace joined to this one by a veth pair; Cut() makes the
// link a black hole in both directions, Heal() undoes it.
class NetNamespace {
 public:
  NetNamespace() {
    std::string id = std::to_string(getpid() % 1000000);
    name_ = "pgjf" + id;
    int net = getpid() % 200 + 20;
    host_ip_ = "10.213." + std::to_string(net) + ".1";
    ns_ip_ = "10.213." + std::to_string(net) + ".2";
    sudo_ = geteuid() == 0 ? "" : "sudo -n ";
    Ip("netns add " + name_);
    made_ = true;
    Ip("link add " + name_ + "h type veth peer name " + name_ + "n");
    Ip("link set " + name_ + "n netns " + name_);
    Ip("addr add " + host_ip_ + "/30 dev " + name_ + "h");
    Ip("link set " + name_ + "h up");
    Ip("-n " + name_ + " addr add " + ns_ip_ + "/30 dev " + name_ + "n");
    Ip("-n " + name_ + " link set " + name_ + "n up");
    Ip("-n " + name_ + " link set lo up");
  }
  ~NetNamespace() {
    if (!made_) return;
    try {
      Ip("netns del " + name_);
      Ip("link del " + name_ + "h");
    } catch (...) {
    }
  }
  void Cut() {
    Ip("route add blackhole " + ns_ip_ + "/32");
    Ip("-n " + name_ + " route add blackhole " + host_ip_ + "/32");
  }
  void Heal() {
    Ip("route del blackhole " + ns_ip_ + "/32");
    Ip("-n " + name_ + " route del blackhole " + host_ip_ + "/32");
  }
  // argv prefix that runs a program inside the namespace (as ourselves).
  std::vector<std::string> Prefix() const {
    std::vector<std::string> out;
    if (!sudo_.empty()) out = {"/usr/bin/sudo", "-n"};
    out.insert(out.end(), {"/usr/sbin/ip", "netns", "exec", name_});
    if (!sudo_.empty()) {
      out.insert(out.end(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(getuid()),
                             "--regid=" + std::to_string(getgid()), "--init-groups"});
    }
    return out;
  }
  const std::string& host_ip() const { return host_ip_; }

 private:
  void Ip(const std::string& args) { Shell(sudo_ + "/usr/sbin/ip " + args); }
  std::string name_, host_ip_, ns_ip_, sudo_;
  bool made_ = false;
};

TEST(NetworkCut, ResetsAndABlackHoleLoseNothingAndRunNothingTwiceWhileItsLeaseIsLive) {
  std::unique_ptr<NetNamespace> ns;
  try {
    ns = std::make_unique<NetNamespace>();
  } catch (const std::exception& e) {
    GTEST_SKIP() << "needs root or passwordless sudo for ip netns: " << e.what();
  }
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  TcpProxy proxy(ns->host_ip(), DsnField(dsn, "host") + "/.s.PGSQL." + DsnField(dsn, "port"));
  const int jobs = Size(500, 3500);
  const auto cut_for = Size(10s, 60s);
  const double lease_s = 5;
  Scratch scratch;
  std::string script = scratch.RecordScript(0.2);
  InsertJobs(dsn, s, jobs);

  WorkerSpec a;
  a.dsn = "host=" + ns->host_ip() + " port=" + std::to_string(proxy.port()) +
          " user=pgjobs dbname=pgjobs";
  // The short run notices the cut in seconds; the long one keeps pgjobs'
  // defaults (keepalives, tcp_user_timeout 60 s, connect_timeout 10 s).
  if (!Long()) a.dsn += " keepalives_idle=2 keepalives_interval=1 keepalives_count=3 "
                        "tcp_user_timeout=5000 connect_timeout=3";
  a.schema = s;
  a.tag = "A";
  a.script = script;
  a.lease = "5s";
  a.prefix = ns->Prefix();
  WorkerSpec b = a;
  b.dsn = dsn;
  b.tag = "B";
  b.prefix = {};
  auto worker_a = StartWorker(scratch, a);
  auto worker_b = StartWorker(scratch, b);
  auto count = [&](const std::string& where) {
    return std::stoll(Q(dsn, "SELECT count(*) FROM " + s + ".jobs WHERE " + where));
  };
  ASSERT_TRUE(testing::Eventually([&] { return count("lease_owner = 'A'") > 0; }, 30s))
      << worker_a->Log();
  std::this_thread::sleep_for(2s);

  // 1. Every connection of A reset at once.
  std::string drop_at = Q(dsn, "SELECT now()");
  int64_t held_at_drop = count("lease_owner = 'A'");
  auto t_drop = Clock::now();
  proxy.Drop();
  bool back = testing::Eventually(
      [&] { return count("lease_owner = 'A' AND started_at > '" + drop_at + "'") > 0; }, 30s);
  double reconnect_s = std::chrono::duration<double>(Clock::now() - t_drop).count();
  ASSERT_TRUE(back) << worker_a->Log();
  std::this_thread::sleep_for(2s);

  // 2. The black hole.
  int64_t held_at_cut = count("state = 'running' AND lease_owner = 'A'");
  double cut_wall = WallSeconds();
  auto t_cut = Clock::now();
  ns->Cut();
  bool rescued = testing::Eventually([&] { return count("lease_owner = 'A'") == 0; }, cut_for);
  double rescue_s = std::chrono::duration<double>(Clock::now() - t_cut).count();
  std::this_thread::sleep_until(t_cut + cut_for);
  EXPECT_FALSE(worker_a->Wait(0ms).has_value()) << "worker A died in the cut: " << worker_a->Log();
  int64_t done_by_b_during_cut =
      std::stoll(Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE worker_id = 'B' AND "
                        "finished_at > to_timestamp(" + std::to_string(cut_wall) + ")"));
  ns->Heal();
  std::string heal_at = Q(dsn, "SELECT now()");
  auto t_heal = Clock::now();
  bool back_after = testing::Eventually(
      [&] {
        return count("lease_owner = 'A' AND started_at > '" + heal_at + "'") > 0 ||
               count("true") == 0;
      },
      90s);
  double reclaim_s = std::chrono::duration<double>(Clock::now() - t_heal).count();
  ASSERT_TRUE(testing::Eventually([&] { return count("true") == 0; }, 300s))
      << count("true") << " jobs left";

  std::vector<JobRun> runs = ReadJobLog(scratch.JobLog());
  std::map<int64_t, int> per_job = RunsPerJob(runs);
  // For each job run again after a run by A that began before the cut: how
  // long after the cut the next run began. A's lease, renewed every lease/3,
  // was live until at least 2/3 of a lease after the cut.
  std::map<int64_t, std::vector<JobRun>> by_job;
  for (const JobRun& r : runs) by_job[r.job_id].push_back(r);
  double min_gap = 1e9;
  int64_t rerun_after_cut = 0;
  for (auto& [id, list] : by_job) {
    std::sort(list.begin(), list.end(),
              [](const JobRun& x, const JobRun& y) { return x.started < y.started; });
    for (size_t i = 0; i + 1 < list.size(); ++i) {
      if (list[i].tag == "A" && list[i].started < cut_wall && list[i + 1].started >= cut_wall) {
        min_gap = std::min(min_gap, list[i + 1].started - cut_wall);
        ++rerun_after_cut;
      }
    }
  }
  Figures f("network_cut");
  f.Set("jobs", int64_t{jobs});
  f.Set("keepalive", Long() ? "defaults" : "dsn_2s_1s_3_user_timeout_5s");
  f.Set("held_by_A_at_reset", held_at_drop);
  f.Set("reconnect_after_reset_s", reconnect_s);
  f.Set("cut_s", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(cut_for).count()));
  f.Set("held_by_A_at_cut", held_at_cut);
  f.Set("rescued_during_cut_s", rescued ? rescue_s : -1.0);
  f.Set("done_by_B_during_cut", done_by_b_during_cut);
  f.Set("A_claims_again_after_heal_s", back_after ? reclaim_s : -1.0);
  f.Set("runs", static_cast<int64_t>(runs.size()));
  f.Set("duplicate_runs", static_cast<int64_t>(runs.size() - per_job.size()));
  f.Set("rerun_after_cut", rerun_after_cut);
  f.Set("earliest_rerun_after_cut_s", rerun_after_cut ? min_gap : 0.0);
  f.Set("lease_s", lease_s);
  f.Set("lost", static_cast<int64_t>(jobs - std::stoll(Q(dsn, "SELECT count(*) FROM " + s +
                                          ".job_history WHERE state = 'succeeded'"))));
  f.Print();

  EXPECT_EQ(std::to_string(jobs), Q(dsn, "SELECT count(*) FROM " + s +
                                             ".job_history WHERE state = 'succeeded'"));
  EXPECT_EQ(static_cast<size_t>(jobs), per_job.size());
  EXPECT_LE(static_cast<int64_t>(runs.size() - per_job.size()), held_at_drop + held_at_cut);
  EXPECT_TRUE(rescued) << "A's jobs were not rescued during the cut";
  EXPECT_GT(done_by_b_during_cut, 0);
  EXPECT_TRUE(back_after) << worker_a->Log();
  if (rerun_after_cut > 0) {
    EXPECT_GE(min_gap, lease_s * 2 / 3 - 0.25);
  }
  EXPECT_GT(proxy.accepted(), 2);
}

}  // namespace
}  // namespace pgjobs::faults
