// The main() for seed-sweep tests, and a sweep runner: link
// //sim/harness:sweep_main instead of GoogleTest's gtest_main.
//
// As a test: with `shard_count` in a BUILD file, Bazel asks GoogleTest to
// split the test cases between shards (GTEST_TOTAL_SHARDS). A sweep wants
// the seeds split instead (SeedsFromEnvironment does that), with every test
// case run in every shard; otherwise a test case runs in one shard only, on
// that shard's part of the seeds, and the other parts are never run.
//
// As a runner: `<test binary> --ember_jobs=N` (or EMBER_JOBS=N) runs the
// binary N times at once, each on its share of the seeds (EMBER_JOB_INDEX
// of EMBER_JOB_COUNT, on top of any machine-level shard: Bazel, a
// Kubernetes Indexed Job, a Slurm array), prints a progress line as seeds
// finish, and at the end a summary: seeds run, failures with the command
// that replays each, faults injected by kind, events per second. The exit
// status is 0 when every seed passed, 1 otherwise. Each process's own
// output goes to sweep-job-<i>.log in $TEST_UNDECLARED_OUTPUTS_DIR, else
// $TMPDIR, else /tmp.

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>  // tidy: allow the runner reports real elapsed time
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace {

struct Totals {
  uint64_t seeds_total = 0;
  uint64_t seeds_run = 0;
  uint64_t failures = 0;
  uint64_t events = 0;
  std::map<std::string, uint64_t> faults;
  std::vector<std::string> failure_lines;
};

// Reads one progress line from a job (see SweepSeeds).
void Account(const std::string& line, Totals& t) {
  if (line.rfind("total ", 0) == 0) {
    t.seeds_total += std::strtoull(line.c_str() + 6, nullptr, 10);
  } else if (line.rfind("seed ", 0) == 0) {
    // "seed <n> ok|fail <events> kind=count ..."
    char verdict[8] = {};
    unsigned long long seed = 0, events = 0;
    int used = 0;
    if (std::sscanf(line.c_str(), "seed %llu %7s %llu%n", &seed, verdict,
                    &events, &used) < 3) {
      return;
    }
    ++t.seeds_run;
    t.events += events;
    if (std::strcmp(verdict, "fail") == 0) ++t.failures;
    const char* p = line.c_str() + used;
    while (*p != '\0') {
      while (*p == ' ') ++p;
      const char* eq = std::strchr(p, '=');
      if (eq == nullptr) break;
      const std::string kind(p, eq);
      char* end = nullptr;
      t.faults[kind] += std::strtoull(eq + 1, &end, 10);
      p = end;
    }
  } else if (line.rfind("failure ", 0) == 0 || line.rfind("replay ", 0) == 0 ||
             line.rfind("error ", 0) == 0) {
    t.failure_lines.push_back(line);
  }
}

std::string OutputDir() {
  for (const char* name : {"TEST_UNDECLARED_OUTPUTS_DIR", "TMPDIR"}) {
    const char* dir = std::getenv(name);
    if (dir != nullptr && *dir != '\0') return dir;
  }
  return "/tmp";
}

std::string WithCommas(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

int RunJobs(int jobs, int argc, char** argv) {
  using Clock = std::chrono::steady_clock;  // tidy: allow runner timing
  const auto start = Clock::now();          // tidy: allow runner timing
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) {
    std::fprintf(stderr, "sweep: cannot find this binary\n");
    return 2;
  }
  exe[len] = '\0';
  std::vector<char*> args = {exe};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--ember_jobs", 12) != 0) args.push_back(argv[i]);
  }
  args.push_back(nullptr);

  std::vector<pid_t> pids;
  std::vector<int> fds;
  for (int job = 0; job < jobs; ++job) {
    int p[2];
    if (pipe(p) != 0) {
      std::perror("sweep: pipe");
      return 2;
    }
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string v(*e);
      if (v.rfind("EMBER_JOB", 0) == 0 ||
          v.rfind("EMBER_SWEEP_PROGRESS_FD=", 0) == 0 ||
          v.rfind("XML_OUTPUT_FILE=", 0) == 0 ||
          v.rfind("GTEST_OUTPUT=", 0) == 0) {
        continue;
      }
      env.push_back(v);
    }
    env.push_back("EMBER_JOB_INDEX=" + std::to_string(job));
    env.push_back("EMBER_JOB_COUNT=" + std::to_string(jobs));
    env.push_back("EMBER_SWEEP_PROGRESS_FD=" + std::to_string(p[1]));
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string log =
        OutputDir() + "/sweep-job-" + std::to_string(job) + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclose(&actions, p[0]);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc =
        posix_spawn(&pid, exe, &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(p[1]);
    if (rc != 0) {
      std::fprintf(stderr, "sweep: cannot start job %d: %s\n", job,
                   std::strerror(rc));
      return 2;
    }
    pids.push_back(pid);
    fds.push_back(p[0]);
  }

  Totals t;
  std::vector<std::string> partial(jobs);
  int open = jobs;
  uint64_t last_reported = 0;
  while (open > 0) {
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back(pollfd{fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), -1) < 0) continue;
    for (size_t j = 0; j < pfds.size(); ++j) {
      if (fds[j] < 0 || (pfds[j].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[j], buf, sizeof(buf));
      if (n <= 0) {
        close(fds[j]);
        fds[j] = -1;
        --open;
        continue;
      }
      partial[j].append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial[j].find('\n')) != std::string::npos) {
        Account(partial[j].substr(0, nl), t);
        partial[j].erase(0, nl + 1);
      }
    }
    // A progress line every 1% of the seeds (and at the end).
    const uint64_t step = t.seeds_total / 100 + 1;
    if (t.seeds_run >= last_reported + step ||
        (open == 0 && t.seeds_run != last_reported)) {
      last_reported = t.seeds_run;
      const double secs = std::chrono::duration<double>(Clock::now() - start)
                              .count();  // tidy: allow runner timing
      std::fprintf(stderr, "\rsweep: %llu/%llu seeds, %llu failed, %.1f s",
                   static_cast<unsigned long long>(t.seeds_run),
                   static_cast<unsigned long long>(t.seeds_total),
                   static_cast<unsigned long long>(t.failures), secs);
    }
  }
  std::fprintf(stderr, "\n");
  bool child_failed = false;
  for (pid_t pid : pids) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) child_failed = true;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start)
                          .count();  // tidy: allow runner timing
  std::printf("sweep: %llu seeds in %.2f s over %d processes (%.0f seeds/s)\n",
              static_cast<unsigned long long>(t.seeds_run), secs, jobs,
              secs > 0 ? static_cast<double>(t.seeds_run) / secs : 0.0);
  std::printf("failures: %llu\n", static_cast<unsigned long long>(t.failures));
  for (const std::string& line : t.failure_lines)
    std::printf("  %s\n", line.c_str());
  std::printf("faults injected:");
  if (t.faults.empty()) std::printf(" none");
  bool first = true;
  for (const auto& [kind, n] : t.faults) {
    std::printf("%s %s %s", first ? "" : ",", kind.c_str(),
                WithCommas(n).c_str());
    first = false;
  }
  std::printf("\nevents: %s (%.0f per second)\n", WithCommas(t.events).c_str(),
              secs > 0 ? static_cast<double>(t.events) / secs : 0.0);
  if (child_failed && t.failures == 0) {
    std::printf("a job failed without a failing seed: see %s/sweep-job-*.log\n",
                OutputDir().c_str());
  }
  std::fflush(stdout);
  return t.failures == 0 && !child_failed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  unsetenv("GTEST_TOTAL_SHARDS");
  unsetenv("GTEST_SHARD_INDEX");
  int jobs = 1;
  if (const char* env = std::getenv("EMBER_JOBS")) jobs = std::atoi(env);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--ember_jobs=", 13) == 0)
      jobs = std::atoi(argv[i] + 13);
  }
  if (jobs > 1 && std::getenv("EMBER_JOB_INDEX") == nullptr) {
    // Touch Bazel's shard status file: the jobs read the shard themselves.
    if (const char* status_file = std::getenv("TEST_SHARD_STATUS_FILE")) {
      if (FILE* f = std::fopen(status_file, "w")) std::fclose(f);
    }
    unsetenv("EMBER_JOBS");
    return RunJobs(jobs, argc, argv);
  }
  unsetenv("EMBER_JOBS");
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
