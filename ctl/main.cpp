// healthsweepctl: the operator's command line for healthsweepd (README
// "healthsweepctl"). Everything is in the healthsweep_ctl library.
#include <iostream>
#include <string>
#include <vector>

#include "ctl/commands.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return healthsweep::ctl::run(args, std::cout, std::cerr);
}
