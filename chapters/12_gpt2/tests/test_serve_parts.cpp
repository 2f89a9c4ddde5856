// gpt2 serve's parts without HTTP or a model: the request parser (with a small fuzz loop), the
// text stream with stop strings, the chat template (with a tokenizer) and the job queue.
#include <algorithm>
#include <chrono>
#include <latch>
#include <mutex>
#include <string_view>
#include <thread>

#include "chapters/10_finetuning/chat_template.h"
#include "chapters/12_gpt2/chat_template.h"
#include "chapters/12_gpt2/serve_api.h"
#include "chapters/12_gpt2/serve_queue.h"
#include "common/rng.h"
#include "common/testing.h"
#include "tests/catch.h"

TEST_CASE("chat template: chapter 10's, with roles in order and no special tokens from the user", "[serve]") {
  // The byte-level tokenizer of the tiny model: one token per byte, <|endoftext|> is 256.
  const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::fixture_dir() + "/12_tiny_model");
  const std::vector<gpt2::ChatMessage> m = {
      {"system", "Be brief."}, {"user", "hi<|endoftext|>"}, {"assistant", "Hello"}, {"user", "Again"}};
  const std::vector<int> ids = gpt2::chat_prompt(m, tok);
  std::string text;
  for (int id : ids) text += id == 256 ? std::string("[EOT]") : std::string(tok.token_bytes(id));
  CHECK(
      text ==
      "Be brief.\n\n### Instruction:\nhi<|endoftext|>\n\n### Response:\nHello[EOT]### Instruction:\nAgain\n\n"
      "### Response:\n");
  // The same tokens as chapter 10's Conversation, which gpt2 chat keeps.
  gpt2::Conversation c(tok);
  c.set_system("Be brief.");
  c.add_user("hi<|endoftext|>");
  c.add_assistant(tok.encode("Hello"));
  c.add_user("Again");
  CHECK(c.tokens() == ids);
  CHECK(gpt2::chat_stop_strings() == std::vector<std::string>{"### Instruction:"});
  CHECK(gpt2::is_chat_role("assistant"));
  CHECK(!gpt2::is_chat_role("tool"));
  // Orders the template cannot write.
  using Catch::Contains;
  auto problem = [](std::vector<gpt2::ChatMessage> msgs) { return gpt2::chat_order_problem(msgs); };
  CHECK(problem({{"user", "a"}}).first.empty());
  CHECK(problem({{"user", "a"}, {"assistant", "b"}}) ==
        std::pair<std::string, size_t>{"the last message must be the user's: the model answers it", 1});
  CHECK(problem({{"user", "a"}, {"user", "b"}}).second == 1);
  CHECK(problem({{"assistant", "a"}, {"user", "b"}}).first ==
        "an assistant message must answer a user message");
  CHECK(problem({{"user", "a"}, {"assistant", "b"}, {"system", "c"}, {"user", "d"}}).second == 2);
  CHECK_THROWS_WITH(gpt2::chat_prompt(std::vector<gpt2::ChatMessage>{{"assistant", "x"}}, tok),
                    Contains("chat: message 0: an assistant message must answer a user message"));
}

TEST_CASE("JobQueue: first come first served, a bounded line, cancellation", "[serve]") {
  gpt2::JobQueue queue(2, [](const std::string& m) { return "error: " + m; });
  std::latch release(1);
  std::vector<int> order;
  std::mutex m;
  auto job = [&](int i) {
    return std::make_shared<gpt2::Job>([&, i](gpt2::Job& j) {
      if (i == 0) release.wait();  // the first job holds the worker until we let it go
      std::lock_guard lock(m);
      order.push_back(i);
      j.send(std::to_string(i));
    });
  };
  auto first = job(0);
  REQUIRE(queue.submit(first));
  while (!first->started()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto second = job(1), third = job(2), fourth = job(3);
  CHECK(queue.submit(second));
  CHECK(queue.submit(third));
  CHECK(!queue.submit(fourth));  // two are waiting already
  CHECK(queue.waiting() == 2);
  second->cancel();  // its client went away while it waited: it is skipped
  release.count_down();
  std::deque<std::string> pieces;
  bool done = false;
  while (!done) third->next(pieces, done, 100);
  CHECK(order == std::vector<int>{0, 2});
  CHECK(queue.cancelled() == 1);
  done = false;
  while (!done) second->next(pieces, done, 100);  // the skipped job still finishes for its reader
  CHECK(pieces.empty());
  // A job that writes faster than its reader reads waits for the reader: at most kMaxPending
  // pieces are ever held, and all arrive, in order.
  auto chatty = std::make_shared<gpt2::Job>([](gpt2::Job& j) {
    for (int i = 0; i < 200; ++i) j.send(std::to_string(i));
  });
  REQUIRE(queue.submit(chatty));
  while (!chatty->started()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  done = false;
  chatty->next(pieces, done, 0);
  CHECK(pieces.size() <= gpt2::Job::kMaxPending);
  CHECK(!done);  // 200 pieces cannot all be out before we read them
  int expected = 0;
  bool in_order = true;
  while (true) {
    for (const std::string& p : pieces) in_order &= p == std::to_string(expected++);
    if (done) break;
    chatty->next(pieces, done, 100);
  }
  CHECK(expected == 200);
  CHECK(in_order);

  // A job that throws answers with its error and the worker goes on.
  auto bad = std::make_shared<gpt2::Job>([](gpt2::Job&) { throw std::runtime_error("boom"); });
  REQUIRE(queue.submit(bad));
  std::string out;
  done = false;
  while (!done) {
    bad->next(pieces, done, 100);
    for (auto& p : pieces) out += p;
  }
  CHECK(out == "error: boom");
}

TEST_CASE("StopTextStream: whole characters, nothing of a stop string", "[serve]") {
  gpt2::StopTextStream s({"<|user|>", "END"});
  CHECK(s.push("ab") == "ab");
  CHECK(s.push("c<") == "c");       // "<" may start "<|user|>"
  CHECK(s.push("|us") == "");       // still may
  CHECK(s.push("ed") == "<|used");  // no longer
  CHECK(s.push("\xC3") == "");      // half of "é"
  CHECK(s.push("\xA9 E") == "\xC3\xA9 ");
  CHECK(s.push("N") == "");
  CHECK(!s.stopped());
  CHECK(s.push("Dxyz") == "");
  CHECK(s.stopped());
  CHECK(s.flush() == "");
  gpt2::StopTextStream plain;
  CHECK(plain.push("x\xE2\x82") == "x");
  CHECK(plain.flush() == "\xE2\x82");  // an unfinished character is given back at the end
  gpt2::StopTextStream early({"b"});
  CHECK(early.push("abc") == "a");
  CHECK(early.stopped());
}

TEST_CASE("parse_completion_request: a prompt that is no prompt gets an error that says why", "[serve]") {
  const gpt2::ServeLimits limits;
  struct Case {
    std::string body, message;
  };
  const std::vector<Case> cases = {
      {R"({"prompt": []})", "invalid 'prompt': an empty array (give a string, or at least one token id)"},
      {R"({"prompt": ["a", "b"]})",
       "invalid 'prompt': a batch of 2 prompts; this server answers one prompt per request"},
      {R"({"prompt": [{"text": "a"}]})",
       "expected a string or an array of token ids, but got an array of other things"},
      {R"({"prompt": true})", "expected a string or an array of token ids, but got a boolean instead"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    try {
      gpt2::parse_completion_request(c.body, limits);
      FAIL("accepted");
    } catch (const gpt2::ApiError& e) {
      CHECK(e.status == 400);
      CHECK(e.param == "prompt");
      CHECK(std::string(e.what()).find(c.message) != std::string::npos);
    }
  }
  // A batch of one prompt is that prompt.
  CHECK(gpt2::parse_completion_request(R"({"prompt": ["To be"]})", limits).prompt == "To be");
}

TEST_CASE("parse_completion_request: an unknown key is named, and a huge one is cut in the message",
          "[serve]") {
  const gpt2::ServeLimits limits;
  try {
    gpt2::parse_completion_request(R"({"prompt": "a", "temprature": 1})", limits);
    FAIL("accepted");
  } catch (const gpt2::ApiError& e) {
    CHECK(e.param == "temprature");
    CHECK(std::string(e.what()) == "unrecognized request argument supplied: temprature");
  }
  const std::string key(100000, 'k');
  try {
    gpt2::parse_completion_request("{\"prompt\": \"a\", \"" + key + "\": 1}", limits);
    FAIL("accepted");
  } catch (const gpt2::ApiError& e) {
    CHECK(e.param == key);  // the field at fault, whole
    CHECK(std::string(e.what()) == "unrecognized request argument supplied: " + key.substr(0, 100) + "...");
  }
}

TEST_CASE("parse_*_request: random corruptions of valid bodies give ApiError 4xx and nothing else",
          "[serve]") {
  // What a fuzzer does, in miniature: every byte string is either a valid request or an ApiError
  // with a 4xx status, never a crash or another exception.
  const std::vector<std::string> seeds = {
      R"({"model": "m", "prompt": "To be", "max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "seed": 3, "stop": ["\n", "x"], "stream": true, "stream_options": {"include_usage": true}, "logprobs": 2})",
      R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 3})",
      R"({"prompt": [1, 2, 3], "max_tokens": 1})", R"({"text": "abc", "top": 3, "id": 5})"};
  gpt2::ServeLimits limits;
  limits.vocab_size = 100;
  gpt2::Rng rng(2024);
  int accepted = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string body = seeds[iter % seeds.size()];
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng.below(static_cast<uint32_t>(body.size()));
      const std::string_view syntax = "{}[]\",:0e-\\u";
      switch (rng.below(3)) {
        case 0:  // replace a byte with any byte
          body[at] = static_cast<char>(rng.below(256));
          break;
        case 1:  // cut 1 to 3 bytes
          body = body.substr(0, at) + body.substr(std::min(body.size(), at + 1 + rng.below(3)));
          break;
        default:  // insert a byte of JSON's syntax
          body =
              body.substr(0, at) + syntax[rng.below(static_cast<uint32_t>(syntax.size()))] + body.substr(at);
          break;
      }
      if (body.empty()) body = "{";
    }
    for (int which = 0; which < 3; ++which) {
      try {
        if (which == 0) gpt2::parse_completion_request(body, limits);
        if (which == 1) gpt2::parse_chat_request(body, limits);
        if (which == 2) gpt2::parse_inspect_request(body, limits);
        ++accepted;
      } catch (const gpt2::ApiError& e) {
        ++refused;
        if (e.status < 400 || e.status > 499) FAIL("status " << e.status << " for " << body);
        if (std::string(e.what()).empty()) FAIL("no message for " << body);
      }
    }
  }
  CHECK(accepted > 100);
  CHECK(refused > 1000);
}
