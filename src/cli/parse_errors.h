// Command-line parse errors in pgjobs' words. CLI11's own messages ("A
// subcommand is required", "The following arguments were not expected")
// name neither the word that was wrong nor what would have been right; these
// do, as git does: the unknown word, the nearest valid one, the valid
// commands, and which --help to read.
#ifndef PGJOBS_CLI_PARSE_ERRORS_H_
#define PGJOBS_CLI_PARSE_ERRORS_H_

#include <CLI/CLI.hpp>

namespace pgjobs::cli {

// Prints the message for e, raised by app.parse(), on stderr ("pgjobs: ..."),
// or the help or version text it asked for on stdout, and returns the exit
// code: 0 for help and version, kExitUsage otherwise.
int ReportParseError(CLI::App& app, const CLI::ParseError& e);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_PARSE_ERRORS_H_
