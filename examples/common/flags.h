// Command-line handling shared by the example programs: a usage line, and
// `--help` listing the program's own flags (Abseil's default filter matches
// flags by the binary's file name, which Bazel's names do not follow, so
// `--help` used to say "No flags matched").
//
// The TLS flags live apart, in tls_flags.h, so that only the servers that
// can speak TLS list them.

#ifndef EMBER_EXAMPLES_COMMON_FLAGS_H_
#define EMBER_EXAMPLES_COMMON_FLAGS_H_

#include <string_view>

namespace ember::examples {

// Sets the usage message ("<usage>"), makes --help and --helpshort list the
// flags defined under examples/ (the program's and the shared ones), and
// parses the command line (exiting on bad flags or --help, as Abseil does).
void ParseExampleFlags(int argc, char** argv, std::string_view usage);

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_COMMON_FLAGS_H_
