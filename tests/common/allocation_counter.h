// Counts calls of the global operator new in a window, for tests that prove a
// steady state allocates nothing.
//
// Linking this library replaces the global operator new and delete (all
// forms) for the whole test binary. Outside a window they only forward to
// malloc and free. Inside one (`AllocationWindow`), each call on the window's
// thread is counted and the first few call stacks are kept, so a failing test
// can say where the allocation came from (`Report`).

#ifndef EMBER_TESTS_COMMON_ALLOCATION_COUNTER_H_
#define EMBER_TESTS_COMMON_ALLOCATION_COUNTER_H_

#include <cstdint>
#include <string>

namespace ember::testing_support {

class AllocationWindow {
 public:
  // Starts counting allocations made on the calling thread.
  AllocationWindow();
  ~AllocationWindow();
  AllocationWindow(const AllocationWindow&) = delete;
  AllocationWindow& operator=(const AllocationWindow&) = delete;

  // Stops counting (also done by the destructor).
  void Stop();
  // Allocations counted so far.
  int64_t count() const;
  // The call stacks of the first allocations counted, symbolised, for a
  // failure message.
  std::string Report() const;
};

}  // namespace ember::testing_support

#endif  // EMBER_TESTS_COMMON_ALLOCATION_COUNTER_H_
