// A network namespace of the test's own, joined to the test's namespace by a
// veth pair with private addresses (10.200-249.x.0/30, from the test's pid:
// tests in parallel get their own), and iptables DROP rules inside it that
// silence TCP to one port of the test's side in both directions. A process
// started with exec_prefix() (the daemon) sees only this namespace; the
// services it talks to listen on host_address() in the test's namespace.
// Removed on destruction, also when the test fails: processes still inside
// (ours) killed, the namespace deleted (its veth end, and with it the pair,
// and its rules go with it).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

class NetworkSandbox {
 public:
  NetworkSandbox() {
    const auto pid = static_cast<unsigned>(getpid());
    name_ = "hsnf" + std::to_string(pid);
    outer_if_ = "hsnfo" + std::to_string(pid);
    inner_if_ = "hsnfi" + std::to_string(pid);
    const std::string net = "10." + std::to_string(200 + (pid / 256) % 50) + "." + std::to_string(pid % 256) + ".";
    host_ = net + "1";
    inner_ = net + "2";
    remove();  // a namespace of a dead process that had our pid
    const std::string ns = " -n " + name_ + " ";
    for (const std::string& cmd :
         {"ip netns add " + name_,
          "ip link add " + outer_if_ + " type veth peer name " + inner_if_ + " netns " + name_,
          "ip addr add " + host_ + "/30 dev " + outer_if_, "ip link set " + outer_if_ + " up",
          "ip" + ns + "addr add " + inner_ + "/30 dev " + inner_if_, "ip" + ns + "link set " + inner_if_ + " up",
          "ip" + ns + "link set lo up",
          // Proof that rules can be set here (iptables in a namespace).
          "ip netns exec " + name_ + " iptables -w -S OUTPUT"}) {
      std::string out;
      if (run_shell(cmd + " 2>&1", &out) != 0) {
        why_ = "`" + cmd + "` failed: " + out;
        return;
      }
    }
    ok_ = true;
  }
  ~NetworkSandbox() { remove(); }
  NetworkSandbox(const NetworkSandbox&) = delete;
  NetworkSandbox& operator=(const NetworkSandbox&) = delete;

  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  const std::string& host_address() const { return host_; }    // the test's side
  const std::string& inner_address() const { return inner_; }  // inside the namespace
  std::vector<std::string> exec_prefix() const { return {"/usr/sbin/ip", "netns", "exec", name_}; }

  // Silence: packets to host_address():port and from it dropped inside the
  // namespace. Connections stay open, nothing arrives: a dead link, a
  // firewall, a hung switch. True when the rules were added (or removed).
  bool drop(int port) { return rules("-A", port); }
  bool restore(int port) { return rules("-D", port); }

 private:
  bool rules(const std::string& op, int port) {
    const std::string ipt = "ip netns exec " + name_ + " iptables -w ";
    const std::string p = std::to_string(port);
    return run_shell(ipt + op + " OUTPUT -p tcp -d " + host_ + " --dport " + p + " -j DROP") == 0 &&
           run_shell(ipt + op + " INPUT -p tcp -s " + host_ + " --sport " + p + " -j DROP") == 0;
  }
  void remove() {
    std::string pids;
    run_shell("ip netns pids " + name_ + " 2>/dev/null", &pids);
    std::istringstream in(pids);
    for (int pid; in >> pid;) ::kill(pid, SIGKILL);  // started by this test
    run_shell("ip netns del " + name_ + " 2>/dev/null");
    run_shell("ip link del " + outer_if_ + " 2>/dev/null");
  }

  std::string name_, outer_if_, inner_if_, host_, inner_, why_;
  bool ok_ = false;
};

}  // namespace healthsweep::testing

// Declares a NetworkSandbox `var`; skips loudly when namespaces cannot be
// made here (not root, no iproute2/iptables), fails under CI=true.
#define HS_REQUIRE_NETNS(var)                                                                     \
  ::healthsweep::testing::NetworkSandbox var;                                                     \
  if (!var.ok()) {                                                                                \
    if (::healthsweep::testing::in_ci()) GTEST_FAIL() << "no network namespace (CI=true): " << var.why(); \
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot create a network namespace: " << var.why();           \
  }
