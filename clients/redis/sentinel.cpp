// Redis Sentinel: asking for the master, confirming it, following +switch-master
// (see sentinel.hpp).
#include "clients/redis/sentinel.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

namespace healthsweep::clients::redis {

namespace net = boost::asio;
using boost::system::error_code;

std::string host_port(const RedisEndpoint& e) {
  return (e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

bool same_server(const RedisEndpoint& a, const RedisEndpoint& b) { return a.host == b.host && a.port == b.port; }

namespace {

std::optional<std::uint16_t> port_of(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

RedisEndpoint at_address(RedisEndpoint base, std::string host, std::uint16_t port) {
  base.host = std::move(host);
  base.port = port;
  base.unix_path.clear();  // a unix:// url gives db and password only, like a redis:// one
  return base;
}

// One sentinel's answer: the master's endpoint, or why not (in `why`).
net::awaitable<std::optional<RedisEndpoint>> ask_one(net::any_io_executor ex, const RedisEndpoint& sentinel,
                                                     const std::string& master_name, const RedisEndpoint& base,
                                                     RedisConnection::Options options, std::string& why) {
  RedisConnection conn(ex, sentinel, options);
  if (const auto ec = co_await conn.connect()) {
    why = conn.last_error().empty() ? ec.message() : conn.last_error();
    co_return std::nullopt;
  }
  // A named vector, not a braced list in the call: g++ 12 miscompiles string
  // literals in a braced argument of a co_await ("array used as initializer").
  std::vector<std::string> ask{"SENTINEL", "get-master-addr-by-name", master_name};
  const auto r = co_await conn.command(std::move(ask));
  conn.close();
  if (r.ec) {
    why = r.ec == net::error::timed_out ? "no reply within " + std::to_string(options.command_timeout.count()) + " ms"
                                        : r.ec.message();
    co_return std::nullopt;
  }
  if (r.reply.is_error()) {
    why = r.reply.str;
    co_return std::nullopt;
  }
  if (r.reply.type == RedisReply::Type::nil) {
    why = "does not monitor a master named '" + master_name + "'";
    co_return std::nullopt;
  }
  const auto& e = r.reply.elements;
  const auto port = e.size() == 2 ? port_of(e[1].str) : std::nullopt;
  if (!port || e[0].str.empty()) {
    why = "answered something that is not an address";
    co_return std::nullopt;
  }
  co_return at_address(base, e[0].str, *port);
}

}  // namespace

net::awaitable<MasterLookup> ask_sentinels(net::any_io_executor ex, const std::vector<RedisEndpoint>& sentinels,
                                           std::string master_name, RedisEndpoint base,
                                           RedisConnection::Options options) {
  MasterLookup out;
  for (const auto& sentinel : sentinels) {
    std::string why;
    if (auto master = co_await ask_one(ex, sentinel, master_name, base, options, why)) {
      out.master = std::move(master);
      out.answered_by = host_port(sentinel);
      out.error.clear();
      co_return out;
    }
    out.error += (out.error.empty() ? "" : "; ") + host_port(sentinel) + ": " + why;
  }
  if (sentinels.empty()) out.error = "no sentinels";
  co_return out;
}

net::awaitable<std::string> confirm_master(RedisConnection& connection) {
  std::vector<std::string> role_cmd{"ROLE"};
  const auto r = co_await connection.command(std::move(role_cmd));
  if (r.ec) co_return "ROLE got no reply: " + (connection.last_error().empty() ? r.ec.message() : connection.last_error());
  if (r.reply.is_error()) co_return "ROLE refused: " + r.reply.str;
  if (r.reply.type != RedisReply::Type::array || r.reply.elements.empty())
    co_return std::string("ROLE answered something unexpected");
  const auto& role = r.reply.elements[0].str;
  if (role != "master") co_return "ROLE is '" + role + "'";
  co_return std::string();
}

std::optional<RedisEndpoint> parse_switch_master(std::string_view payload, std::string_view master_name,
                                                 const RedisEndpoint& base) {
  std::vector<std::string_view> words;
  while (!payload.empty()) {
    const auto space = payload.find(' ');
    if (space != 0) words.push_back(payload.substr(0, space));
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (words.size() != 5 || words[0] != master_name || words[3].empty()) return std::nullopt;
  const auto port = port_of(words[4]);
  if (!port) return std::nullopt;
  return at_address(base, std::string(words[3]), *port);
}

// ------------------------------------------------------------- SentinelWatch

struct SentinelWatch::State : std::enable_shared_from_this<SentinelWatch::State> {
  State(net::any_io_executor executor, std::vector<RedisEndpoint> s, std::string name, RedisEndpoint b, Options o)
      : ex(executor), sentinels(std::move(s)), master_name(std::move(name)), base(std::move(b)), options(o),
        wake(executor) {}

  net::awaitable<void> run();
  net::awaitable<void> sleep(std::chrono::steady_clock::duration d) {
    wake.expires_after(d);
    error_code ec;
    co_await wake.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  void report(const RedisEndpoint& master, const std::string& how) {
    if (!stopping && on_master) on_master(master, how);
  }
  // The sentinels starting at `first`: the one we are subscribed on is asked first.
  std::vector<RedisEndpoint> rotated(std::size_t first) const {
    std::vector<RedisEndpoint> out;
    for (std::size_t i = 0; i < sentinels.size(); ++i) out.push_back(sentinels[(first + i) % sentinels.size()]);
    return out;
  }

  net::any_io_executor ex;
  std::vector<RedisEndpoint> sentinels;
  std::string master_name;
  RedisEndpoint base;
  Options options;
  MasterHandler on_master;
  net::steady_timer wake;
  std::unique_ptr<RedisConnection> sub;
  std::size_t next = 0;
  bool stopping = false;
  bool lost = false;
  bool is_subscribed = false;
};

net::awaitable<void> SentinelWatch::State::run() {
  auto self = shared_from_this();  // alive until this coroutine ends
  auto backoff = options.backoff_initial;
  int failures = 0;
  while (!stopping && !sentinels.empty()) {
    const std::size_t index = next % sentinels.size();
    const auto& at = sentinels[index];
    const auto where = host_port(at);
    sub = std::make_unique<RedisConnection>(ex, at, options.connection);
    lost = false;
    sub->set_close_handler([w = weak_from_this()](error_code) {
      if (auto s = w.lock()) {
        s->lost = true;
        s->wake.cancel();
      }
    });
    sub->set_message_handler([w = weak_from_this(), where](std::string_view, std::string_view payload) {
      auto s = w.lock();
      if (!s) return;
      if (auto master = parse_switch_master(payload, s->master_name, s->base))
        s->report(*master, "+switch-master from sentinel " + where);
    });
    auto ec = co_await sub->connect();
    if (!ec && !stopping) ec = co_await sub->subscribe("+switch-master");
    if (stopping) break;
    if (ec) {
      // Loud on the first failure of a streak, then every 20th: an outage of
      // every sentinel must not flood the log.
      if (failures == 0 || failures % 20 == 19)
        spdlog::warn("redis sentinel: cannot subscribe to +switch-master on {} ({}); trying the next sentinel",
                     where, sub->last_error().empty() ? ec.message() : sub->last_error());
      sub->close();
      ++next;
      if (++failures % static_cast<int>(sentinels.size()) == 0) {  // a whole round failed
        co_await sleep(backoff);
        backoff = std::min(backoff * 2, options.backoff_max);
      }
      continue;
    }
    failures = 0;
    backoff = options.backoff_initial;
    is_subscribed = true;
    spdlog::info("redis sentinel: following failovers of '{}' through sentinel {}", master_name, where);
    // A switch may have happened while no subscription was up.
    const auto found = co_await ask_sentinels(ex, rotated(index), master_name, base, options.connection);
    if (found.master && !lost) report(*found.master, "asked sentinel " + found.answered_by + " after subscribing");
    while (!stopping && !lost) co_await sleep(std::chrono::hours(24));
    is_subscribed = false;
    if (stopping) break;
    spdlog::warn("redis sentinel: lost the +switch-master subscription on {} ({}); subscribing on the next sentinel",
                 where, sub->last_error());
    sub->close();
    ++next;
  }
  if (sub) sub->close();
}

SentinelWatch::SentinelWatch(net::any_io_executor ex, std::vector<RedisEndpoint> sentinels, std::string master_name,
                             RedisEndpoint base, Options options)
    : state_(std::make_shared<State>(std::move(ex), std::move(sentinels), std::move(master_name), std::move(base),
                                     options)) {}

SentinelWatch::~SentinelWatch() { stop(); }

void SentinelWatch::start(MasterHandler on_master) {
  state_->on_master = std::move(on_master);
  net::co_spawn(state_->ex, [s = state_] { return s->run(); },
                clients::net::log_failure("redis sentinel: watch stopped by an error"));
}

void SentinelWatch::stop() {
  auto& s = *state_;
  if (s.stopping) return;
  s.stopping = true;
  s.on_master = nullptr;
  s.wake.cancel();
  if (s.sub) s.sub->close();
}

bool SentinelWatch::subscribed() const { return state_->is_subscribed; }

}  // namespace healthsweep::clients::redis
