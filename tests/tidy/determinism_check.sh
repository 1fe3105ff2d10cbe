#!/usr/bin/env bash
# Keeps the determinism contract honest: code above io/ (the reactor,
# protocols, the simulator and handlers that run on it) must behave the same
# for the same seed in every run and process. It must take time and
# randomness from the backend and never sleep (rules 1 and 2), never let a
# hash table's order or a hash value reach behaviour, never order by
# address (rule 3), and start no thread (rule 4: blocking work goes to
# io::Network::Offload, whose real backend owns the only pool). Each hit
# names the file,
# the line and the rule.
#
# A line may opt out with a trailing comment "// tidy: allow <reason>", for
# code that is real-backend only, or for a hash table that is only looked up
# (never iterated), which the reason must say.
set -euo pipefail

rules=(
  'clock|steady_clock::now|system_clock::now|high_resolution_clock::now|time\(nullptr\)|time\(NULL\)|absl::Now\(\)|gettimeofday|clock_gettime'
  'randomness|std::random_device|[^_a-zA-Z:.]s?rand\(|absl::BitGen|absl::InsecureBitGen|_distribution<|std::shuffle'
  'sleep|sleep_for|sleep_until|usleep\(|[^_a-zA-Z]sleep\(|nanosleep'
  'unordered container (iteration order differs per process)|unordered_(map|set|multimap|multiset)<|(flat|node)_hash_(map|set)<'
  'hash value (std::hash differs by library, absl::Hash by process)|std::hash<|absl::Hash<|absl::HashOf\(|hash_value\('
  'thread|std::j?thread([^:_a-zA-Z]|$)|pthread_create|std::async\('
  'order by address|(set|map|multiset|multimap|btree_set|btree_map)<[ ]*(const[ ]+)?[A-Za-z_:]+[ ]*\*|std::less<[^>]*\*[ ]*>|intptr_t>?\('
)

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
hits=""
for rule in "${rules[@]}"; do
  name=${rule%%|*}
  pattern=${rule#*|}
  found=$(awk -v pat="$pattern" -v rule="$name" '
    /tidy: allow/ { next }
    {
      code = $0
      sub(/\/\/.*/, "", code)
      if (code ~ pat) print FILENAME ":" FNR ": [" rule "] " $0
    }' "${files[@]}")
  if [[ -n "$found" ]]; then hits+="$found"$'\n'; fi
done
if [[ -n "$hits" ]]; then
  echo "Determinism contract: these lines break a rule (see README, 'The"
  echo "determinism contract'); add '// tidy: allow <reason>' only where the"
  echo "reason holds:"
  printf '%s' "$hits"
  exit 1
fi
echo "determinism_check: ${#files[@]} files clean"
