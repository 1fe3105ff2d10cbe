// A stand-in for libFuzzer's main: runs LLVMFuzzerTestOneInput once on each
// file named on the command line, or on every file under each folder named,
// in sorted order. With it a fuzz target's corpus is a regression test under
// an ordinary build (see fuzz.bzl). Arguments starting with "-" are
// libFuzzer flags and are ignored.
//
// Relative paths are looked up as given, then under the test's runfiles
// ($TEST_SRCDIR/$TEST_WORKSPACE), then in the directory `bazel run` was
// started from ($BUILD_WORKING_DIRECTORY), then in <argv[0]>.runfiles/ember.
// A path that resolves to nothing, or a run with no input at all, fails:
// a corpus that silently went missing would otherwise pass.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
    __attribute__((weak));

namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// The first existing candidate for `arg`, or "".
fs::path Resolve(const std::string& arg, const char* argv0) {
  std::vector<fs::path> candidates = {arg};
  if (fs::path(arg).is_relative()) {
    if (!Env("TEST_SRCDIR").empty()) {
      candidates.push_back(fs::path(Env("TEST_SRCDIR")) /
                           Env("TEST_WORKSPACE") / arg);
    }
    if (!Env("BUILD_WORKING_DIRECTORY").empty()) {
      candidates.push_back(fs::path(Env("BUILD_WORKING_DIRECTORY")) / arg);
    }
    candidates.push_back(fs::path(std::string(argv0) + ".runfiles") / "ember" /
                         arg);
  }
  for (const fs::path& candidate : candidates) {
    std::error_code error;
    if (fs::exists(candidate, error)) return candidate;
  }
  return {};
}

bool RunFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::string data((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                         data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    const fs::path path = Resolve(arg, argv[0]);
    if (path.empty()) {
      std::fprintf(stderr, "replay: %s not found\n", arg.c_str());
      return 1;
    }
    if (fs::is_directory(path)) {
      // Runfiles are symlinks; follow them.
      for (const auto& entry : fs::recursive_directory_iterator(
               path, fs::directory_options::follow_directory_symlink)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs\n");
    return 1;
  }
  for (const fs::path& file : files) {
    if (!RunFile(file)) return 1;
  }
  std::fprintf(stderr, "replay: %zu inputs ran\n", files.size());
  return 0;
}
