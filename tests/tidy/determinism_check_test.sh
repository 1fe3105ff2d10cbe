#!/usr/bin/env bash
# Tests the determinism check itself: each planted file breaks one rule and
# must be reported, naming that rule; the clean file (thread ids, comments,
# justified opt-outs, look-alikes) must pass.
set -uo pipefail

check=$1
dir=$(dirname "$2")
failures=0
checks=0

expect_hit() {
  local file=$1 rule=$2 out
  checks=$((checks + 1))
  if out=$("$check" "$dir/$file" 2>&1); then
    echo "FAIL: $file passed the check; it breaks rule '$rule'"
    failures=$((failures + 1))
  elif ! grep -q "\[$rule" <<<"$out"; then
    echo "FAIL: $file was reported, but not under rule '$rule':"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $file -> $rule"
  fi
}

expect_hit clock.cc "clock"
expect_hit randomness.cc "randomness"
expect_hit sleep.cc "sleep"
expect_hit unordered.cc "unordered container"
expect_hit unordered_std.h "unordered container"
expect_hit hash_value.cc "hash value"
expect_hit std_hash.cc "hash value"
expect_hit thread.cc "thread"
expect_hit order_by_address.cc "order by address"
expect_hit pointer_less.cc "order by address"

checks=$((checks + 1))
if out=$("$check" "$dir/clean.cc" 2>&1); then
  echo "ok: clean.cc passes"
else
  echo "FAIL: clean.cc was reported:"
  echo "$out"
  failures=$((failures + 1))
fi

echo "$((checks - failures)) passed, $failures failed"
exit $((failures > 0))
