#include "tests/common/allocation_counter.h"

#include <execinfo.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// From the sanitizer runtime (declared here: gcc ships no header for it).
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, std::size_t),
    void (*free_hook)(const volatile void*));
// AddressSanitizer and ThreadSanitizer bring their own operator new, which
// takes precedence over the one below; their allocator calls a hook on
// every allocation instead (malloc too, so there the count is stricter).
#define EMBER_COUNT_THROUGH_SANITIZER_HOOK 1
#endif

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

namespace ember::testing_support {
namespace {

constexpr int kStacksKept = 4;
constexpr int kFramesKept = 24;

// Only the thread that opened the window counts.
thread_local bool counting = false;
std::atomic<int64_t> allocations{0};
void* stacks[kStacksKept][kFramesKept];
int stack_depths[kStacksKept];

void Record() {
  if (!counting) return;
  const int64_t n = allocations.fetch_add(1);
  if (n < kStacksKept) {
    counting = false;  // backtrace() itself must not be counted.
    stack_depths[n] = backtrace(stacks[n], kFramesKept);
    counting = true;
  }
}

#ifdef EMBER_COUNT_THROUGH_SANITIZER_HOOK
void OnSanitizerMalloc(const volatile void*, std::size_t) { Record(); }
void OnSanitizerFree(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(
    OnSanitizerMalloc, OnSanitizerFree);
constexpr bool kCountInOperatorNew = false;
#else
constexpr bool kCountInOperatorNew = true;
#endif

void* Allocate(std::size_t size) {
  if (kCountInOperatorNew) Record();
  if (size == 0) size = 1;
  void* p = std::malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* AllocateAligned(std::size_t size, std::align_val_t align) {
  if (kCountInOperatorNew) Record();
  const std::size_t alignment = static_cast<std::size_t>(align);
  std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  if (rounded == 0) rounded = alignment;
  void* p = std::aligned_alloc(alignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

AllocationWindow::AllocationWindow() {
  // backtrace() loads its unwinder on first use, which allocates: do that
  // now, outside the window.
  void* warm[2];
  backtrace(warm, 2);
  allocations.store(0);
  counting = true;
}

AllocationWindow::~AllocationWindow() { Stop(); }

void AllocationWindow::Stop() { counting = false; }

int64_t AllocationWindow::count() const { return allocations.load(); }

std::string AllocationWindow::Report() const {
  const bool was = counting;
  counting = false;
  std::string out;
  const int64_t n = allocations.load();
  for (int64_t i = 0; i < n && i < kStacksKept; ++i) {
    out += "allocation " + std::to_string(i + 1) + ":\n";
    char** symbols = backtrace_symbols(stacks[i], stack_depths[i]);
    for (int f = 0; f < stack_depths[i]; ++f) {
      out += "  ";
      out += symbols != nullptr ? symbols[f] : "?";
      out += "\n";
    }
    std::free(symbols);
  }
  counting = was;
  return out;
}

}  // namespace ember::testing_support

using ember::testing_support::Allocate;
using ember::testing_support::AllocateAligned;

void* operator new(std::size_t size) { return Allocate(size); }
void* operator new[](std::size_t size) { return Allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return Allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return Allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return AllocateAligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return AllocateAligned(size, align);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
