// A TCP echo connection, written the way an application would write it:
// every byte read is written back, and a client that sends faster than it
// reads is throttled (reading pauses at the outbound high-water mark and
// resumes at the low-water mark) instead of growing the buffer.

#ifndef EMBER_EXAMPLES_ECHO_ECHO_SERVER_H_
#define EMBER_EXAMPLES_ECHO_ECHO_SERVER_H_

#include <string_view>

#include "reactor/connection.h"

namespace ember::examples {

class EchoConnection : public Connection {
 public:
  // Small replies go out at once instead of waiting for Nagle's algorithm.
  void PostInit() override { SetNoDelay(true).IgnoreError(); }
  void ReceiveData(std::string_view data) override {
    // Cannot fail: reading pauses long before the hard limit.
    SendData(data).IgnoreError();
  }
  void OutboundHighWater() override { Pause(); }
  void OutboundLowWater() override { Resume(); }
};

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_ECHO_ECHO_SERVER_H_
