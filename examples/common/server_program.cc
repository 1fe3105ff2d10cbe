#include "examples/common/server_program.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace ember::examples {

absl::StatusOr<std::unique_ptr<ServerProgram>> ServerProgram::Create(
    int port_flag) {
  if (port_flag < 0 || port_flag > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be 0..65535, not ", port_flag));
  }
  absl::StatusOr<std::unique_ptr<io::EpollNetwork>> network =
      io::EpollNetwork::Create();
  if (!network.ok()) return network.status();
  std::unique_ptr<ServerProgram> program(new ServerProgram());
  program->port_ = static_cast<uint16_t>(port_flag);
  program->network_ = std::move(*network);
  program->reactor_ = std::make_unique<Reactor>(*program->network_);
  program->signals_ =
      std::make_unique<ShutdownOnSignal>(*program->reactor_, absl::Seconds(5));
  return program;
}

int ServerProgram::Run(std::string_view what,
                       const absl::StatusOr<io::Address>& address) {
  const std::string name(what);
  if (!address.ok()) {
    std::fprintf(stderr, "%s cannot listen: %s\n", name.c_str(),
                 address.status().ToString().c_str());
    return 1;
  }
  std::printf("%s listening on %s (Ctrl-C to stop)\n", name.c_str(),
              address->ToString().c_str());
  std::fflush(stdout);
  absl::Status status = reactor_->Run();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: reactor stopped: %s\n", name.c_str(),
                 status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ember::examples
