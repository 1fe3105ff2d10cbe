#!/usr/bin/env bash
# Keeps the determinism contract honest: code above io/ (the reactor,
# protocols, the simulator and handlers that run on it) must take time and
# randomness from the backend, never sleep, never start a thread (blocking
# work goes to io::Network::Offload, whose real backend owns the only pool),
# and never use distributions whose sequences differ across library versions.
# Each hit names the file and line.
#
# A line may opt out with a trailing comment "// tidy: allow <reason>", for
# code that is real-backend only.
set -euo pipefail

pattern='steady_clock::now|system_clock::now|high_resolution_clock::now|std::random_device|[^_a-zA-Z:.]s?rand\(|time\(nullptr\)|time\(NULL\)|absl::Now\(\)|absl::BitGen|absl::InsecureBitGen|_distribution<|std::shuffle|sleep_for|usleep\(|[^_a-zA-Z]sleep\(|gettimeofday|clock_gettime|std::thread[^:_a-zA-Z]|std::jthread|std::async\(|pthread_create'

files=()
for f in "$@"; do
  case "$f" in
    *.h|*.cc) files+=("$f") ;;
  esac
done
if ((${#files[@]} == 0)); then
  echo "determinism_check: no sources given" >&2
  exit 1
fi

# Match code only: the part of each line before a // comment.
hits=$(awk -v pat="$pattern" '
  /tidy: allow/ { next }
  {
    code = $0
    sub(/\/\/.*/, "", code)
    if (code ~ pat) print FILENAME ":" FNR ": " $0
  }' "${files[@]}")
if [[ -n "$hits" ]]; then
  echo "Determinism contract: these lines read a real clock, real randomness,"
  echo "sleep, start a thread, or use an unstable distribution (see README,"
  echo "'The determinism contract'):"
  echo "$hits"
  exit 1
fi
echo "determinism_check: ${#files[@]} files clean"
