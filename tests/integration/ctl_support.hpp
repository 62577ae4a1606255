// Running the real healthsweepctl binary (HEALTHSWEEPCTL_PATH) as a
// subprocess: to completion with its exit code, stdout and stderr apart, or in
// the background (events --follow) with both in one log.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

struct CtlRun {
  int code = -1;
  std::string out, err;
};

// The shell only splits stderr from stdout; "$@" keeps every argument whole.
inline std::vector<std::string> ctl_argv(const std::string& err_path, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>\"" + err_path + "\"", HEALTHSWEEPCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline CtlRun run_ctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  TempDir dir;
  Subprocess p(ctl_argv(dir.file("err"), args), dir.file("out"), env);
  CtlRun r;
  const auto code = p.wait_exit(std::chrono::seconds(60));  // a hang bound only
  EXPECT_TRUE(code) << "healthsweepctl did not exit";
  r.code = code.value_or(-1);
  r.out = p.log();
  r.err = read_file(dir.file("err"));
  return r;
}

inline std::string describe(const CtlRun& r) {
  return "exit " + std::to_string(r.code) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

// `events --follow` left running: stdout and stderr in one log.
struct CtlFollow {
  TempDir dir;
  Subprocess process;
  explicit CtlFollow(std::vector<std::string> args)
      : process([&] {
          std::vector<std::string> argv{HEALTHSWEEPCTL_PATH};
          argv.insert(argv.end(), args.begin(), args.end());
          return argv;
        }(), dir.file("log")) {}
  std::string log() const { return process.log(); }
};

}  // namespace healthsweep::testing
