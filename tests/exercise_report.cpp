// The Catch2 listener behind the one-line verdict of each exercise task (see exercise_report.h).
// It watches the failed checks of a test case and, when the case ends, prints its verdict.
// Catch2 2 declares its reporter interfaces only on request:
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "tests/exercise_report.h"

#include <cstdio>
#include <string>

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/reporters/catch_reporter_event_listener.hpp>
#include <catch2/reporters/catch_reporter_registrars.hpp>
#define GPT2_CATCH3 1
#endif

namespace {

// One line, at most `limit` characters: a verdict should fit a terminal line or two.
std::string one_line(std::string text, size_t limit = 400) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (text.size() > limit) text = text.substr(0, limit) + " ...";
  return text;
}

#ifdef GPT2_CATCH3
using ListenerBase = Catch::EventListenerBase;
#else
using ListenerBase = Catch::TestEventListenerBase;
#endif

class ExerciseReport : public ListenerBase {
 public:
  using ListenerBase::ListenerBase;

#ifdef GPT2_CATCH3
  void assertionEnded(Catch::AssertionStats const& stats) override {
    record(stats);
  }
#else
  bool assertionEnded(Catch::AssertionStats const& stats) override {
    record(stats);
    return true;
  }
#endif

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    ListenerBase::testCaseStarting(info);
    unfinished_.clear();
    wrong_.clear();
    skipped_.clear();
  }

  void testCaseEnded(Catch::TestCaseStats const& stats) override {
#ifdef GPT2_CATCH3
    const std::string& name = stats.testInfo->name;
#else
    const std::string& name = stats.testInfo.name;
#endif
    std::string verdict;
    if (!unfinished_.empty()) {
      // The stub's message names its task ("exercise 03.1 softmax_backward: not implemented
      // yet"); name it here only when it is another task's stub this one depends on.
      const std::string id = name.substr(0, name.find(' '));
      verdict = "not implemented yet";
      if (unfinished_.find("exercise " + id + " ") == std::string::npos) verdict += " (" + unfinished_ + ")";
    } else if (!wrong_.empty() || stats.totals.assertions.failed > 0) {
      verdict = "wrong: " + (wrong_.empty() ? std::string("a check failed") : wrong_);
    } else if (!skipped_.empty()) {
      verdict = skipped_;
    } else {
      verdict = "passed";
    }
    std::printf("exercise %s: %s\n", name.c_str(), one_line(verdict).c_str());
    std::fflush(stdout);
    ListenerBase::testCaseEnded(stats);
  }

 private:
  void record(Catch::AssertionStats const& stats) {
    const Catch::AssertionResult& r = stats.assertionResult;
    const std::string message(r.getMessage());
    if (r.getResultType() == Catch::ResultWas::Warning) {
      if (message.rfind("skipped", 0) == 0 && skipped_.empty()) skipped_ = message;
      return;
    }
    if (r.isOk()) return;
    if (message.find("not implemented yet") != std::string::npos) {
      // An unfinished stub: the first one met names the function.
      if (unfinished_.empty()) unfinished_ = message;
      return;
    }
    if (!wrong_.empty()) return;  // the first failure is the one to fix first
    if (r.getResultType() == Catch::ResultWas::ThrewException) {
      wrong_ = "threw " + message;
    } else if (r.getResultType() == Catch::ResultWas::FatalErrorCondition) {
      wrong_ = "crashed: " + message;
    } else if (!stats.infoMessages.empty()) {
      // The comparison helpers put their report (relative error, worst element) in INFO; outer
      // INFOs say which case of the loop it was.
      for (const Catch::MessageInfo& info : stats.infoMessages)
        wrong_ += (wrong_.empty() ? "" : "; ") + info.message;
    } else if (r.hasExpression()) {
      wrong_ = std::string(r.getExpression()) + " is " + std::string(r.getExpandedExpression());
    } else {
      wrong_ = message;
    }
  }

  std::string unfinished_, wrong_, skipped_;
};

}  // namespace

CATCH_REGISTER_LISTENER(ExerciseReport)
