// Where the simulator's fault decisions come from, which of them may strike,
// and the record of those that did.
//
// Every fault the plan can inject is decided at a *decision point*: a place
// in the run named by what it hits and how many times that was considered
// before, e.g. "the 7th segment delivered on connection c3, client to
// server, considered for a reset". A point's identity is a 64-bit value
// derived from the fault kind, the subject (a connection direction, a
// listener, a datagram socket, a name, the wall clock) and that ordinal, so
// it does not depend on anything else that happened in the run.
//
// Decisions are counter-based: the seeded source decides a point from
// Mix64(seed, point) alone, never from a shared stream. Switching one fault
// kind off, changing one kind's rate, suppressing one fault, or adding a
// connection elsewhere therefore leaves every other point's decision (and its
// parameters: how a write is cut, how long a clog lasts) exactly as it was;
// lowering a rate only removes faults, it never moves the others.
//
// `FaultFilter` suppresses chosen faults by identity (or keeps only chosen
// ones): the shrinker in sim/harness replays a failing run with subsets of
// its faults to find the few that matter, and EMBER_KEEP_FAULTS replays the
// result. `ByteDecisions` reads the decisions from a byte string instead of
// the seed, so a coverage-guided fuzzer chooses the faults.

#ifndef EMBER_SIM_FAULT_SCHEDULE_H_
#define EMBER_SIM_FAULT_SCHEDULE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ember::sim {

// A fault the simulator injected, as SimNetwork's fault log keeps it.
struct FaultRecord {
  std::string kind;    // "split", "reset", "clog", ... (SimStats::faults keys)
  uint64_t id = 0;     // the decision point's identity (see the file comment)
  absl::Duration at;   // virtual time since the run began
  std::string where;   // "c3 127.0.0.1:32768 -> 127.0.0.1:7000"
  std::string detail;  // "in 3 pieces", "for 1.2s", may be empty

  // "split of c3 127.0.0.1:32768 -> 127.0.0.1:7000 at 12.4s (in 3 pieces)
  // [split:1f2e3d4c5b6a7988]".
  std::string ToString() const;
  // "split:1f2e3d4c5b6a7988", the form EMBER_KEEP_FAULTS lists.
  std::string Token() const;
};

// Which plan faults may strike. Scripted faults (SimNetwork::ResetConnection
// and the like) are never filtered.
struct FaultFilter {
  enum class Mode : uint8_t {
    kAll,     // every fault the decisions call for
    kOnly,    // only faults whose identity is in `ids`
    kExcept,  // every fault but those in `ids`
  };
  Mode mode = Mode::kAll;
  std::set<uint64_t> ids;

  static FaultFilter All() { return {}; }
  static FaultFilter Only(std::set<uint64_t> ids) {
    return {Mode::kOnly, std::move(ids)};
  }
  static FaultFilter Except(std::set<uint64_t> ids) {
    return {Mode::kExcept, std::move(ids)};
  }

  bool Allows(uint64_t id) const {
    switch (mode) {
      case Mode::kAll:
        return true;
      case Mode::kOnly:
        return ids.count(id) > 0;
      case Mode::kExcept:
        return ids.count(id) == 0;
    }
    return true;
  }

  // Reads a list of fault tokens ("split:1f2e...,reset:77aa..."; the kind
  // before the colon is for people and not checked; bare hex ids are
  // accepted) as a kOnly filter; "none" keeps no fault at all.
  // kInvalidArgument naming the bad token.
  static absl::StatusOr<FaultFilter> ParseKeepList(std::string_view text);
  // The ids as ParseKeepList reads them (hex, comma-separated; "none" when
  // empty).
  std::string KeepList() const;

  friend bool operator==(const FaultFilter&, const FaultFilter&) = default;
};

// Decides the plan's faults.
class DecisionSource {
 public:
  virtual ~DecisionSource() = default;

  // Whether the fault strikes at decision point `point`, whose rate under
  // the plan is `probability` (in (0, 1); the simulator decides rates of 0
  // and 1 itself, without asking). When it does, `*params` is set to a seed
  // for the fault's parameters (how a write is cut, a clog's length).
  // Called once per point, in the run's deterministic order.
  virtual bool Decide(uint64_t point, double probability, uint64_t* params) = 0;
};

// Decisions read from a byte string, for fuzzing. Each decision takes one
// byte from the front: the fault strikes when the byte is below
// max(1, ceil(256 * rate)), so the fuzzer can switch any fault on or off
// whatever its rate; a fault that strikes takes 8 more bytes for its
// parameters. When the bytes run out, no fault strikes (and parameters are
// 0). A workload takes its own choices with `Choose`, from the back of the
// same bytes, so that its choices do not move when the faults do.
class ByteDecisions final : public DecisionSource {
 public:
  // The bytes must outlive this object.
  ByteDecisions(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool Decide(uint64_t point, double probability, uint64_t* params) override;

  // A choice in [0, n) for a workload (n > 0), from up to 8 bytes taken
  // from the back; 0 once the two ends meet.
  uint64_t Choose(uint64_t n);

  // Starts again from the first byte: each run of a scenario that reads
  // these bytes must see them from the start (the shrinker replays a run
  // many times with one source).
  void Rewind() {
    pos_ = 0;
    back_ = size_;
  }
  size_t consumed() const { return pos_ + (size_ - back_); }
  bool exhausted() const { return pos_ >= back_; }

 private:
  uint64_t TakeBytes(size_t n);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;       // next byte for a fault decision
  size_t back_ = size_;  // one past the next byte for a workload choice
};

// What a decision source answered at one point.
struct RecordedDecision {
  bool strikes = false;
  uint64_t params = 0;
};

// Passes decisions through from `inner`, keeping each in `out` by point.
class RecordingDecisions final : public DecisionSource {
 public:
  RecordingDecisions(DecisionSource* inner,
                     std::map<uint64_t, RecordedDecision>* out)
      : inner_(inner), out_(out) {}
  bool Decide(uint64_t point, double probability, uint64_t* params) override {
    const bool strikes = inner_->Decide(point, probability, params);
    (*out_)[point] = RecordedDecision{strikes, strikes ? *params : 0};
    return strikes;
  }

 private:
  DecisionSource* inner_;
  std::map<uint64_t, RecordedDecision>* out_;
};

// Answers each point as a recorded run did, and "no fault" at points that
// run never reached: a run with some faults suppressed then meets the
// others' decisions unchanged, even when the source recorded was a byte
// stream read in order (which would otherwise shift under it).
class RecordedDecisions final : public DecisionSource {
 public:
  explicit RecordedDecisions(const std::map<uint64_t, RecordedDecision>* in)
      : in_(in) {}
  bool Decide(uint64_t point, double, uint64_t* params) override {
    auto it = in_->find(point);
    if (it == in_->end() || !it->second.strikes) return false;
    *params = it->second.params;
    return true;
  }

 private:
  const std::map<uint64_t, RecordedDecision>* in_;
};

}  // namespace ember::sim

#endif  // EMBER_SIM_FAULT_SCHEDULE_H_
