#!/bin/bash
# Goal: the sweep runner (sweep_main.cc, --ember_jobs) runs every seed once
# over several processes, reports the failing seed with its replay command
# and a summary, and exits 1; with no failing seed it exits 0.
set -u
bin="$1"
out="$TEST_TMPDIR/out.txt"
EMBER_SEEDS=60 "$bin" --ember_jobs=3 >"$out" 2>"$TEST_TMPDIR/err.txt"
status=$?
cat "$out"
fail() { echo "FAIL: $*"; exit 1; }
[ "$status" = 1 ] || fail "exit status $status, expected 1"
grep -q '^sweep: 60 seeds in .* over 3 processes' "$out" || fail "no summary line"
grep -q '^failures: 1$' "$out" || fail "not one failure"
grep -q 'failure seed 17: DATA_LOSS: seed 17 fails on purpose' "$out" || fail "failure not named"
grep -q 'replay ./bazelw test .*--test_filter=SweepFixture.FailsOnSeedSeventeen --test_env=EMBER_SEED=17' "$out" || fail "no replay command"
grep -q '^events: ' "$out" || fail "no events line"
grep -q 'sweep: 60/60 seeds' "$TEST_TMPDIR/err.txt" || fail "no final progress line"
# Seeds 1..16 only: nothing fails.
EMBER_SEEDS=16 "$bin" --ember_jobs=2 >"$out" 2>/dev/null || fail "a clean sweep failed"
grep -q '^sweep: 16 seeds' "$out" || fail "clean summary"
grep -q '^failures: 0$' "$out" || fail "clean failures"
echo PASS
