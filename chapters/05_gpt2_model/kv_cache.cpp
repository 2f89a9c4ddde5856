// The KV cache's memory: see kv_cache.h.
#include "chapters/05_gpt2_model/kv_cache.h"

#include "common/error.h"

namespace gpt2 {

namespace {
// The cache's capacity: `capacity` if it is in (0, n_positions], else the whole context.
int cache_positions(const GPT2Config& config, int capacity) {
  return capacity > 0 && capacity < config.n_positions ? capacity : config.n_positions;
}
}  // namespace

KVCache::KVCache(const GPT2Config& config, Backend& backend, int batch, int capacity)
    : L_(config.n_layer),
      NH_(config.n_head),
      HS_(config.head_size()),
      B_(batch),
      maxT_(cache_positions(config, capacity)),
      backend_(&backend) {
  GPT2_CHECK(batch > 0, "KVCache: the batch must be > 0 sequences, got ", batch);
  buffer_ = BackendBuffer(backend, static_cast<size_t>(kv_cache_bytes(config, batch, maxT_)));
}

void KVCache::truncate(int n) {
  GPT2_CHECK(n >= 0 && n <= size_, "KVCache::truncate: the cache holds ", size_, " positions, cannot keep ",
             n);
  size_ = n;
}

int64_t kv_cache_bytes(const GPT2Config& config, int batch, int capacity) {
  const int positions = cache_positions(config, capacity);
  return int64_t{2} * config.n_layer * batch * positions * config.n_embd * int64_t{sizeof(float)};
}

}  // namespace gpt2
