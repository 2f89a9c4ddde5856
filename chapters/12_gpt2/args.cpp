#include "chapters/12_gpt2/args.h"

#include <charconv>
#include <cmath>

#include "common/error.h"

namespace gpt2 {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

ArgParser& ArgParser::option(const std::string& name, const std::string& value_name, const std::string& help,
                             const std::string& default_value, bool required) {
  specs_.push_back({name, value_name, help, default_value, false, required, false, default_value});
  return *this;
}

ArgParser& ArgParser::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, "", true, false, false, ""});
  return *this;
}

ArgParser::Spec& ArgParser::find(const std::string& name) {
  for (Spec& s : specs_)
    if (s.name == name) return s;
  fail(command_, ": unknown option '", name, "' (see '", command_, " --help')");
}

const ArgParser::Spec& ArgParser::find(const std::string& name) const {
  return const_cast<ArgParser*>(this)->find(name);
}

bool ArgParser::parse(std::span<const std::string> args, std::ostream& help_out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      help_out << usage();
      return false;
    }
    GPT2_CHECK(a.rfind("--", 0) == 0, command_, ": unexpected argument '", a, "' (see '", command_,
               " --help')");
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    Spec& s = find(name);
    if (s.is_flag) {
      GPT2_CHECK(eq == std::string::npos, command_, ": option '", name, "' takes no value");
      s.given = true;
      continue;
    }
    if (eq != std::string::npos) {
      s.value = a.substr(eq + 1);
    } else {
      GPT2_CHECK(i + 1 < args.size(), command_, ": option '", name, "' needs a value (", name, " ",
                 s.value_name, ")");
      s.value = args[++i];
    }
    s.given = true;
  }
  for (const Spec& s : specs_)
    GPT2_CHECK(!s.required || s.given, command_, ": missing required option '", s.name, " ", s.value_name,
               "' (see '", command_, " --help')");
  return true;
}

std::string ArgParser::get(const std::string& name) const {
  return find(name).value;
}

long long ArgParser::get_int(const std::string& name, long long min, long long max) const {
  const std::string v = get(name);
  long long x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  GPT2_CHECK(ec == std::errc() && end == v.data() + v.size() && !v.empty(), command_, ": option '", name,
             "' expects an integer, got '", v, "'");
  GPT2_CHECK(x >= min && x <= max, command_, ": option '", name, "' must be between ", min, " and ", max,
             ", got ", x);
  return x;
}

double ArgParser::get_double(const std::string& name, double min, double max) const {
  const std::string v = get(name);
  // std::from_chars for double: locale-independent, and it must consume the whole value.
  double x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  GPT2_CHECK(ec == std::errc() && end == v.data() + v.size() && !v.empty() && std::isfinite(x), command_,
             ": option '", name, "' expects a number, got '", v, "'");
  GPT2_CHECK(x >= min && x <= max, command_, ": option '", name, "' must be between ", min, " and ", max,
             ", got ", x);
  return x;
}

bool ArgParser::given(const std::string& name) const {
  return find(name).given;
}

std::string ArgParser::usage() const {
  std::string u = "usage: " + command_;
  for (const Spec& s : specs_) {
    std::string part = s.is_flag ? s.name : s.name + " " + s.value_name;
    u += s.required ? " " + part : " [" + part + "]";
  }
  u += "\n\n" + summary_ + "\n\noptions:\n";
  for (const Spec& s : specs_) {
    std::string left = "  " + (s.is_flag ? s.name : s.name + " " + s.value_name);
    if (left.size() < 26) left.resize(26, ' ');
    u += left + " " + s.help;
    if (!s.is_flag && !s.default_value.empty()) u += " (default: " + s.default_value + ")";
    if (s.required) u += " (required)";
    u += "\n";
  }
  u += "  --help                   show this help\n";
  return u;
}

}  // namespace gpt2
