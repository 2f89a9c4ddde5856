// Exercises 07 (solution): the answers are what chapters/07_sampling does.
#include "chapters/07_sampling/sampler.h"
#include "chapters/07_sampling/utf8_stream.h"
#include "exercise.h"

namespace exercise {

// The chapter's filters work on (id, prob) candidates; convert there and back.
static std::vector<gpt2::Candidate> to_candidates(const std::vector<float>& probs) {
  std::vector<gpt2::Candidate> candidates;
  for (size_t i = 0; i < probs.size(); ++i) candidates.push_back({static_cast<int>(i), probs[i]});
  return candidates;
}

static std::vector<float> to_probs(const std::vector<gpt2::Candidate>& candidates, size_t n) {
  std::vector<float> probs(n, 0.0f);
  for (const gpt2::Candidate& c : candidates) probs[c.id] = c.prob;
  return probs;
}

std::vector<float> top_k_filter(const std::vector<float>& probs, int k) {
  std::vector<gpt2::Candidate> candidates = to_candidates(probs);
  gpt2::keep_top_k(candidates, k);
  return to_probs(candidates, probs.size());
}

std::vector<float> top_p_filter(const std::vector<float>& probs, float p) {
  std::vector<gpt2::Candidate> candidates = to_candidates(probs);
  gpt2::keep_top_p(candidates, p);
  return to_probs(candidates, probs.size());
}

size_t utf8_complete_prefix(std::string_view bytes) {
  return gpt2::utf8_complete_prefix(bytes);
}

}  // namespace exercise
