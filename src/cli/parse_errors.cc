#include "cli/parse_errors.h"

#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "common/text.h"

namespace pgjobs::cli {
namespace {

// The last subcommand the command line reached ("pgjobs jobs show" reaches
// show), or app itself.
CLI::App* Reached(CLI::App& app) {
  CLI::App* at = &app;
  for (auto parsed = at->get_subcommands(); !parsed.empty(); parsed = at->get_subcommands()) {
    at = parsed.front();
  }
  return at;
}

// "pgjobs schedules add".
std::string PathOf(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent()) {
    path = app->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

// The path without the leading "pgjobs", then a space: "schedules ".
std::string PathBelowRoot(const CLI::App* app) {
  std::string path = PathOf(app);
  size_t space = path.find(' ');
  return space == std::string::npos ? "" : path.substr(space + 1) + " ";
}

std::vector<std::string> CommandNames(CLI::App* app) {
  std::vector<std::string> names;
  for (CLI::App* sub : app->get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// The long options valid at app: its own and, since global options may
// follow a subcommand, those of every command above it.
std::vector<std::string> LongOptions(CLI::App* app) {
  std::vector<std::string> names;
  for (CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* option : a->get_options()) {
      for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    }
  }
  return names;
}

int Usage(const std::string& message, const CLI::App* at) {
  std::fprintf(stderr, "pgjobs: %s\nSee `%s --help`.\n", message.c_str(), PathOf(at).c_str());
  return kExitUsage;
}

int UnknownCommand(CLI::App* at, const std::string& word) {
  std::vector<std::string> names = CommandNames(at);
  std::string below = PathBelowRoot(at);
  std::string message = "unknown command \"" + below + word + "\"";
  std::string nearest = NearestWord(word, names);
  if (!nearest.empty()) message += "; did you mean \"" + below + nearest + "\"?";
  message += "\nThe commands of " + PathOf(at) + " are: " + Join(names) + ".";
  return Usage(message, at);
}

int MissingCommand(CLI::App* at) {
  return Usage(PathOf(at) + " needs a command: " + Join(CommandNames(at)), at);
}

// Words CLI11 could not place: an unknown option (named, with the nearest
// known one) or a stray argument.
int Extras(CLI::App* at, const std::vector<std::string>& extras) {
  for (const std::string& word : extras) {
    if (word.size() < 2 || word[0] != '-') continue;
    std::string name = word.substr(0, word.find('='));
    std::string message = "unknown option \"" + name + "\"";
    std::string nearest = NearestWord(name, LongOptions(at));
    if (!nearest.empty()) message += "; did you mean \"" + nearest + "\"?";
    return Usage(message, at);
  }
  std::string words;
  for (const std::string& word : extras) words += (words.empty() ? "\"" : " \"") + word + "\"";
  return Usage(PathOf(at) + " does not take " + words, at);
}

// CLI11 says "Could not convert: --priority = x". Every typed (non-text)
// option of pgjobs is a whole number, so say that.
std::string ConversionMessage(const std::string& what) {
  const std::string prefix = "Could not convert: ";
  size_t equals = what.find(" = ");
  if (what.rfind(prefix, 0) != 0 || equals == std::string::npos) return what;
  std::string name = what.substr(prefix.size(), equals - prefix.size());
  return name + " must be a whole number, not \"" + what.substr(equals + 3) + "\"";
}

// CLI11 says "--dsn: 1 required TEXT missing" for an option given no value.
std::string MismatchMessage(const std::string& what) {
  size_t colon = what.find(": ");
  if (colon == std::string::npos || what.find(" required ") == std::string::npos ||
      !what.ends_with(" missing")) {
    return what;
  }
  return what.substr(0, colon) + " needs a value";
}

}  // namespace

int ReportParseError(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
  CLI::App* at = Reached(app);
  std::vector<std::string> extras = app.remaining(true);
  bool about_words = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
                     dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
  if (about_words && !CommandNames(at).empty()) {
    for (const std::string& word : extras) {
      if (!word.empty() && word[0] != '-') return UnknownCommand(at, word);
    }
    if (extras.empty()) return MissingCommand(at);
  }
  if (about_words && !extras.empty()) return Extras(at, extras);
  std::string message = e.what();
  if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    message = ConversionMessage(message);
  } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    message = MismatchMessage(message);
  }
  std::string below = PathBelowRoot(at);
  if (!below.empty()) message = below.substr(0, below.size() - 1) + ": " + message;
  return Usage(message, at);
}

}  // namespace pgjobs::cli
