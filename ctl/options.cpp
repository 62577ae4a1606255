#include "ctl/options.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <utility>

#include "config/config.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::ctl {

namespace {

constexpr std::array<std::pair<std::string_view, Command>, 7> commands{{
    {"status", Command::status}, {"targets", Command::targets}, {"target", Command::target},
    {"reset", Command::reset},   {"sweep", Command::sweep},     {"events", Command::events},
    {"help", Command::help},
}};
// SPEC section 4's states, spelled as the daemon spells them, and the three
// detection layers of a target object's evidence.
constexpr auto states = [] {
  std::array<std::string_view, sweeps::decide::state_count> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = sweeps::decide::to_string(sweeps::decide::all_states[i]);
  return names;
}();
constexpr std::array<std::string_view, 3> layers{"passive", "proactive", "reactive"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

template <std::size_t N>
std::string listed(const std::array<std::string_view, N>& set) {
  std::string out;
  for (auto s : set) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

// A whole number without sign: "500"; nullopt for "-1", "5x", "".
std::optional<int> whole_number(std::string_view text) {
  int n = 0;
  const char* end = text.data() + text.size();
  const auto parsed = std::from_chars(text.data(), end, n);
  if (text.empty() || parsed.ec != std::errc{} || parsed.ptr != end || n < 0) return std::nullopt;
  return n;
}

class Parser {
 public:
  explicit Parser(const std::vector<std::string>& args) : args_(args) {}

  ParsedArgs run() {
    std::vector<std::string> positional;
    bool flags_end = false;  // after "--" everything is positional (an ID starting with '-')
    for (i_ = 0; i_ < args_.size() && error_.empty(); ++i_) {
      const std::string& arg = args_[i_];
      if (!flags_end && arg == "--")
        flags_end = true;
      else if (!flags_end && arg.size() > 1 && arg[0] == '-')
        flag(arg);
      else
        positional.push_back(arg);
    }
    if (error_.empty()) assign_positional(positional);
    if (error_.empty()) check_flags_fit();
    if (!error_.empty()) return {std::nullopt, error_};
    return {std::move(o_), {}};
  }

 private:
  // The value of a flag: after '=' or the next argument.
  std::optional<std::string> value(std::string_view name, const std::optional<std::string>& inline_value) {
    if (inline_value) return inline_value;
    if (i_ + 1 >= args_.size()) {
      error_ = std::string(name) + " needs a value";
      return std::nullopt;
    }
    return args_[++i_];
  }

  void flag(const std::string& arg) {
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    if (name == "-h" || name == "--help") {
      help_ = true;
    } else if (name == "--follow" || name == "-f") {
      o_.follow = true;
      follow_given_ = true;
    } else if (name == "--config" || name == "-c") {
      if (auto v = value(name, inline_value)) o_.config_path = *v;
    } else if (name == "--url") {
      if (auto v = value(name, inline_value)) o_.url = *v;
    } else if (name == "--token-file") {
      if (auto v = value(name, inline_value)) o_.token_file = *v;
    } else if (name == "--output" || name == "-o") {
      if (auto v = value(name, inline_value)) {
        if (*v != "json" && *v != "table") error_ = "--output: '" + *v + "' is not json or table";
        o_.json = *v == "json";
      }
    } else if (name == "--timeout") {
      if (auto v = value(name, inline_value)) {
        const auto d = config::parse_duration(*v);
        if (!d || d->count() <= 0) error_ = "--timeout: '" + *v + "' is not a duration like 5s or 500ms";
        else o_.timeout = *d;
      }
    } else if (name == "--chunk-size") {
      if (auto v = value(name, inline_value)) {
        const auto n = whole_number(*v);
        if (!n || *n > 10000) error_ = "--chunk-size: '" + *v + "' is not a number from 0 to 10000";
        else o_.chunk_size = *n;
      }
    } else if (name == "--state") {
      if (auto v = value(name, inline_value)) {
        if (!one_of(states, *v)) error_ = "--state: '" + *v + "' is not one of " + listed(states);
        o_.state = *v;
      }
    } else if (name == "--layer") {
      if (auto v = value(name, inline_value)) {
        if (!one_of(layers, *v)) error_ = "--layer: '" + *v + "' is not one of " + listed(layers);
        o_.layer = *v;
      }
    } else {
      error_ = "unknown flag '" + arg + "'";
    }
  }

  void assign_positional(const std::vector<std::string>& positional) {
    if (positional.empty()) {
      if (!help_) error_ = "no command given (status, targets, target, reset, sweep, events)";
      return;
    }
    const auto found = std::find_if(commands.begin(), commands.end(),
                                    [&](const auto& c) { return c.first == positional[0]; });
    if (found == commands.end()) {
      error_ = "unknown command '" + positional[0] + "'";
      return;
    }
    o_.command = help_ ? Command::help : found->second;
    const bool takes_id = o_.command == Command::target || o_.command == Command::reset ||
                          o_.command == Command::sweep;
    if (takes_id && positional.size() != 2) {
      error_ = positional[0] + " takes one target ID";
    } else if (!takes_id && positional.size() > 1 && o_.command != Command::help) {
      error_ = positional[0] + " takes no argument (got '" + positional[1] + "')";
    } else if (takes_id) {
      o_.id = positional[1];
      if (o_.id.empty()) error_ = "the target ID is empty";
    }
  }

  void check_flags_fit() {
    if (o_.command == Command::help) return;
    if ((!o_.state.empty() || !o_.layer.empty()) && o_.command != Command::targets)
      error_ = "--state and --layer are for the targets command";
    else if (follow_given_ && o_.command != Command::events)
      error_ = "--follow is for the events command";
  }

  const std::vector<std::string>& args_;
  std::size_t i_ = 0;
  Options o_;
  bool help_ = false;
  bool follow_given_ = false;
  std::string error_;
};

}  // namespace

ParsedArgs parse_args(const std::vector<std::string>& args) { return Parser(args).run(); }

std::string usage_text() {
  return std::string(R"(usage: healthsweepctl [flags] COMMAND [ID]

commands:
  status                     subsystems with status and age, and the fail-safe
  targets [--state S] [--layer L]
                             every target: ID, STATE, SINCE, RESTARTS, LAST EVIDENCE
  target ID                  one target: each layer's evidence, restarts, quarantine,
                             recent events (from PostgreSQL when configured)
  reset ID                   clear quarantine and backoff (needs the token)
  sweep ID                   check the target now (needs the token)
  events [--follow]          recent transitions from PostgreSQL; --follow prints them
                             as they happen (LISTEN, or polling the admin API
                             once a second without a postgres section)

flags:
  -c, --config FILE          the daemon's config file (default )") +
         default_config_path + R"()
      --url URL              the daemon's address (default: the config's listen;
                             with --url the default config is not read)
      --token-file FILE      the bearer token (default: the config's auth.token_file)
  -o, --output json|table    json prints the daemon's JSON (events: one object a line)
      --timeout DURATION     per request (default 5s)
      --chunk-size N         targets read a page (default 500; 0: all in one request)

exit codes: 0 ok, 1 the daemon said no, 2 usage or config error, 3 daemon not reachable
)";
}

}  // namespace healthsweep::ctl
