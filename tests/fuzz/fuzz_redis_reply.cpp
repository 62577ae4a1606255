// Redis replies as the passive layer meets them: the fuzzer's bytes are
// read with hiredis' own reader (redisReader) into a sequence of replies;
// a fake Redis on a unix socket answers every command of the real passive
// layer (PassiveLayer, its two RedisConnections through hiredis' async
// API and RedisReply conversion) with the next reply, whatever the command
// was; when the layer waits for nothing but the server, the next reply goes
// unasked to the pub/sub connection (keyspace and probe messages); when the
// replies run out the server hangs up and the layer is stopped.
// So the connect PING, INFO (run_id), CONFIG GET/SET, (P)SUBSCRIBE
// confirmations and messages, DBSIZE, SCAN pages, PTTL and PUBLISH answers
// are all arbitrary. Inputs of odd length run the layer with exact keyspace
// channels (SUBSCRIBE of many channels, and after some steps a change of the
// watched set: UNSUBSCRIBE, the probe barrier, SUBSCRIBE), so unsubscribe
// confirmations and multi-channel subscriptions meet arbitrary replies too.
// Must hold: no crash, no hang, no evidence about a target that is not
// watched.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <list>

#include "config/config.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/passive/passive_layer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace net = boost::asio;
using namespace healthsweep;
using fuzz_support::local;
using fuzz_support::nothrow;

constexpr std::size_t kMaxReplies = 128;

// RESP for one reply as hiredis read it.
void encode(const redisReply* r, std::string& out) {
  switch (r->type) {
    case REDIS_REPLY_STATUS: out += '+'; out.append(r->str, r->len); out += "\r\n"; break;
    case REDIS_REPLY_ERROR: out += '-'; out.append(r->str, r->len); out += "\r\n"; break;
    case REDIS_REPLY_INTEGER: out += ':' + std::to_string(r->integer) + "\r\n"; break;
    case REDIS_REPLY_STRING:
      out += '$' + std::to_string(r->len) + "\r\n";
      out.append(r->str, r->len);
      out += "\r\n";
      break;
    case REDIS_REPLY_ARRAY:
      out += '*' + std::to_string(r->elements) + "\r\n";
      for (std::size_t i = 0; i < r->elements; ++i) encode(r->element[i], out);
      break;
    default: out += "$-1\r\n"; break;
  }
}

std::deque<std::string> replies_of(const std::uint8_t* data, std::size_t size) {
  std::deque<std::string> out;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  void* reply = nullptr;
  while (out.size() < kMaxReplies && redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
    std::string wire;
    encode(static_cast<redisReply*>(reply), wire);
    freeReplyObject(reply);
    out.push_back(std::move(wire));
  }
  redisReaderFree(reader);
  return out;
}

struct FakeRedis {
  net::io_context& ioc;
  std::string path;
  local::acceptor acceptor{ioc};
  std::deque<std::string> replies;
  std::list<std::shared_ptr<local::socket>> conns;
  std::weak_ptr<local::socket> subscriber;  // the last connection that (p)subscribed
  bool up = false;

  FakeRedis(net::io_context& io, std::string p) : ioc(io), path(std::move(p)) {}

  void start(std::deque<std::string> r) {
    replies = std::move(r);
    fuzz_support::listen_unix(acceptor, path);
    up = true;
    net::co_spawn(ioc, accept_loop(), net::detached);
  }

  void hang_up() {
    if (!up) return;
    up = false;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (auto& c : conns) c->close(ignored);
    conns.clear();
  }

  net::awaitable<void> accept_loop() {
    while (up) {
      auto [ec, s] = co_await acceptor.async_accept(nothrow);
      if (ec || !up) co_return;
      auto conn = std::make_shared<local::socket>(std::move(s));
      conns.push_back(conn);
      net::co_spawn(ioc, serve(conn), net::detached);
    }
  }

  // Answers each command (a RESP array from hiredis) with the next reply.
  net::awaitable<void> serve(std::shared_ptr<local::socket> conn) {
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
    char buf[4096];
    while (up && conn->is_open()) {
      auto [ec, n] = co_await conn->async_read_some(net::buffer(buf), nothrow);
      if (ec || !up) co_return;
      redisReaderFeed(reader.get(), buf, n);
      void* command = nullptr;
      while (redisReaderGetReply(reader.get(), &command) == REDIS_OK && command) {
        const auto* c = static_cast<redisReply*>(command);
        if (c->type == REDIS_REPLY_ARRAY && c->elements > 0 && c->element[0]->str) {
          const std::string_view verb(c->element[0]->str, c->element[0]->len);
          if (verb == "SUBSCRIBE" || verb == "PSUBSCRIBE") subscriber = conn;
        }
        freeReplyObject(command);
        if (replies.empty()) {
          hang_up();
          co_return;
        }
        const std::string reply = std::move(replies.front());
        replies.pop_front();
        auto [wec, w] = co_await net::async_write(*conn, net::buffer(reply), nothrow);
        if (wec) co_return;
      }
    }
  }

  // Nothing else to do: the next reply goes to the subscriber unasked, or,
  // with none (or no reply left), the server hangs up. False once it has.
  bool on_idle() {
    if (!up) return false;
    auto sub = subscriber.lock();
    if (replies.empty() || !sub || !sub->is_open()) {
      hang_up();
      return true;
    }
    auto reply = std::make_shared<std::string>(std::move(replies.front()));
    replies.pop_front();
    net::async_write(*sub, net::buffer(*reply), [reply, sub](boost::system::error_code, std::size_t) {});
    return true;
  }
};

struct World {
  net::io_context ioc{1};
  metrics::Metrics metrics{"fuzz"};
  metrics::LivenessRegistry liveness;
  FakeRedis redis{ioc, fuzz_support::socket_dir() + "/redis.sock"};
  config::Redis cfg;
  World() {
    spdlog::set_level(spdlog::level::off);
    cfg.enabled = true;
    cfg.url = "unix://" + redis.path;
    cfg.heartbeat_key = "hb:{id}";
    cfg.keyspace_events = true;
    cfg.reconcile_interval = std::chrono::milliseconds(0);  // reconcile again at once: every reply is used
    liveness.enable(metrics::Subsystem::redis, std::chrono::seconds(60));
    liveness.enable(metrics::Subsystem::passive, std::chrono::seconds(60));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // As the daemon does (daemon/app.cpp): hiredis writes with write(2), and
  // the fake Redis hanging up mid-command must be EPIPE, not a SIGPIPE death.
  static const bool pipes_ignored = std::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)pipes_ignored;
  static World* w = new World;
  if (size > 64 * 1024) return 0;
  auto replies = replies_of(data, size);
  w->redis.start(std::move(replies));

  std::vector<std::string> targets{"ws-1", "ws-2", "a*b"};
  sweeps::passive::PassiveOptions opts;
  opts.exact_channels = size % 2 == 1;
  opts.channels_per_command = 2;  // several commands even for three targets
  opts.initial_grace = std::chrono::milliseconds(0);  // verdicts at once, not after a minute
  opts.backoff_initial = std::chrono::milliseconds(0);
  opts.backoff_max = std::chrono::milliseconds(0);
  opts.scan_count = 10;
  {
    sweeps::passive::PassiveLayer layer(
        w->ioc.get_executor(), w->cfg, w->metrics, w->liveness,
        [&](sweeps::decide::Evidence e) {
          if (std::find(targets.begin(), targets.end(), e.target) == targets.end()) std::abort();
        },
        [](bool) {}, opts);
    layer.set_targets(targets, std::chrono::steady_clock::now());
    layer.start();
    // Run until the server is gone; then a few steps for the layer to notice
    // (it reconnects at once, to a socket nobody listens on: each step past
    // the first few is one more refused connect, which only cost time: 200
    // of them made 40 inputs a second, 32 make 250).
    std::size_t after_hang_up = 0;
    for (std::size_t steps = 0; steps < 1000000; ++steps) {
      if (steps == 200) {  // one target gone, one new: the subscriptions follow
        targets = {"ws-2", "a*b", "ws-3"};
        layer.set_targets(targets, std::chrono::steady_clock::now());
      }
      if (w->ioc.poll_one() > 0) {
        if (!w->redis.up && ++after_hang_up > 32) break;
        continue;
      }
      if (!w->redis.on_idle()) break;
    }
    if (w->redis.up) std::abort();  // a million steps: the layer spins
    layer.stop();
  }
  w->ioc.poll();
  w->ioc.restart();
  return 0;
}
