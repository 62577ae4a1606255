// A libFuzzer-compatible driver for g++ builds: replays every file of the
// corpus directory given as argv[1], then runs a bounded number of random
// mutations of them (deterministic seed), so each ctest run exercises the
// harness (argv[2]: how many mutations, default 20000). With clang, build the
// same harness with -fsanitize=fuzzer instead (scripts/fuzz).
// The corpus is read in name order, so the mutations are the same on every
// machine. HS_FUZZ_LAST_INPUT=FILE: each input is written there before it
// runs, so the one that aborted is left behind.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  if (argc > 1 && std::filesystem::is_directory(argv[1])) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(argv[1])) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (corpus.empty()) corpus.emplace_back("");
  const char* last_input = std::getenv("HS_FUZZ_LAST_INPUT");
  const auto run = [last_input](const std::string& input) {
    if (last_input) std::ofstream(last_input, std::ios::binary | std::ios::trunc) << input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  };
  for (const auto& input : corpus) run(input);

  std::mt19937_64 rng(0x5eed);
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 20000;
  for (int i = 0; i < iterations; ++i) {
    std::string input = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const auto pos = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 4) {
        case 0: input.insert(input.begin() + static_cast<long>(pos), static_cast<char>(rng())); break;
        case 1: if (pos < input.size()) input.erase(pos, 1 + rng() % 4); break;
        case 2: if (pos < input.size()) input[pos] = static_cast<char>(rng()); break;
        case 3: if (!corpus.empty()) { const auto& other = corpus[rng() % corpus.size()];
                  if (!other.empty()) { auto from = rng() % other.size();
                    input.insert(pos, other.substr(from, 1 + rng() % 16)); } } break;
      }
    }
    run(input);
  }
  std::printf("fuzz: %zu corpus inputs, %d mutations, no crash\n", corpus.size(), iterations);
  return 0;
}
