#include "tests/support/redis_server.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

namespace healthsweep::testing {

namespace {

std::string find_redis_server() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/usr/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const auto candidate = dir + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::string reply_text(const redisReply* r) {
  if (!r) return "ERR: no reply";
  switch (r->type) {
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "(nil)";
    case REDIS_REPLY_ERROR: return "ERR: " + std::string(r->str, r->len);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) {
        if (i) out.push_back('\n');
        out.append(reply_text(r->element[i]));
      }
      return out;
    }
    default: return std::string(r->str, r->len);
  }
}

}  // namespace

RedisTestClient::RedisTestClient(const std::string& host, int port) : host_(host), port_(port) {
  reconnect();
}

RedisTestClient::~RedisTestClient() {
  if (c_) redisFree(c_);
}

void RedisTestClient::reconnect() {
  if (c_) redisFree(c_);
  const timeval tv{2, 0};
  c_ = redisConnectWithTimeout(host_.c_str(), port_, tv);
  if (c_ && !c_->err) redisSetTimeout(c_, timeval{10, 0});
}

bool RedisTestClient::ok() const { return c_ && !c_->err; }

std::string RedisTestClient::run(const std::vector<std::string>& args) {
  if (!ok()) reconnect();  // the server may have been restarted
  if (!ok()) return "ERR: not connected";
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()));
  const auto text = reply_text(r);
  if (r) freeReplyObject(r);
  return text;
}

long long RedisTestClient::integer(const std::vector<std::string>& args) {
  const auto text = run(args);
  try {
    return std::stoll(text);
  } catch (...) {
    return -999;
  }
}

int RedisTestClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (!ok()) reconnect();
  if (!ok()) return static_cast<int>(commands.size());
  int errors = 0;
  constexpr size_t chunk = 10000;  // bounded output buffers on both sides
  for (size_t start = 0; start < commands.size(); start += chunk) {
    const auto end = std::min(commands.size(), start + chunk);
    for (size_t i = start; i < end; ++i) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : commands[i]) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data());
    }
    for (size_t i = start; i < end; ++i) {
      void* r = nullptr;
      if (redisGetReply(c_, &r) != REDIS_OK) return errors + static_cast<int>(commands.size() - i);
      if (static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR) ++errors;
      freeReplyObject(r);
    }
  }
  return errors;
}

std::unique_ptr<RedisServer> RedisServer::start(Options options, std::string* why) {
  std::unique_ptr<RedisServer> s(new RedisServer());
  s->options_ = std::move(options);
  s->socket_ = s->dir_.file("redis.sock");
  for (int attempt = 0; attempt < 3; ++attempt) {  // free_port() can race with another test
    s->port_ = free_port();
    if (s->launch(why)) return s;
  }
  return nullptr;
}

bool RedisServer::launch(std::string* why, const std::vector<std::string>& extra_lines, bool wait_ready) {
  const auto binary = find_redis_server();
  if (binary.empty()) {
    if (why) *why = "redis-server is not installed (apt-get install redis-server)";
    return false;
  }
  std::ostringstream conf;
  conf << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir_.path() << "\ndaemonize no\nlogfile \"\"\n";
  if (!options_.sentinel)
    conf << "unixsocket " << socket_ << "\nunixsocketperm 700\nsave \"\"\nappendonly no\n";
  for (const auto& line : options_.config_lines) conf << line << "\n";
  for (const auto& line : extra_lines) conf << line << "\n";
  // A sentinel rewrites its file (what it learnt of replicas and peers).
  const auto conf_path = dir_.write(options_.sentinel ? "sentinel.conf" : "redis.conf", conf.str());
  std::vector<std::string> argv{binary, conf_path};
  if (options_.sentinel) argv.push_back("--sentinel");
  process_.reset();
  process_ = std::make_unique<Subprocess>(argv, dir_.file("redis.log"));
  if (!wait_ready) return process_->running();
  const bool up = eventually(
      [&] {
        if (!process_->running()) return true;
        RedisTestClient c("127.0.0.1", port_);
        const auto pong = c.ok() ? c.run({"PING"}) : "";
        return pong == "PONG" || pong.starts_with("ERR: NOAUTH");  // up, wants a password
      },
      std::chrono::seconds(10));
  if (up && process_->running()) return true;
  if (why) *why = "redis-server did not answer PING on port " + std::to_string(port_) + ": " + log();
  process_.reset();
  return false;
}

RedisServer::~RedisServer() { process_.reset(); }  // SIGKILL + reap; TempDir removes the rest

std::string RedisServer::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string RedisServer::unix_url(int db) const { return "unix://" + socket_ + "?db=" + std::to_string(db); }

std::string RedisServer::log() const { return read_file(dir_.file("redis.log")); }

void RedisServer::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  process_->wait_exit(std::chrono::seconds(10));
  process_.reset();
}

void RedisServer::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
  process_.reset();
}

bool RedisServer::restart(const std::vector<std::string>& extra_lines, bool wait_ready) {
  process_.reset();
  std::string why;
  return launch(&why, extra_lines, wait_ready);
}

void RedisServer::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void RedisServer::resume() {
  if (process_) process_->signal(SIGCONT);
}

bool RedisServer::running() { return process_ && process_->running(); }

std::unique_ptr<RedisTestClient> RedisServer::client() const {
  return std::make_unique<RedisTestClient>("127.0.0.1", port_);
}

}  // namespace healthsweep::testing
