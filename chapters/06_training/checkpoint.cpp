#include "checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "common/file_io.h"
#include "common/json_fields.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

std::string step_dir_name(int step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08d", step);
  return buf;
}

// The step of a "step_00000200" directory name, or -1 for anything else (".tmp", "latest").
int step_of(const std::string& name) {
  if (name.size() != 13 || name.rfind("step_", 0) != 0) return -1;
  int step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

bool is_complete(const fs::path& dir) {
  return fs::exists(dir / "state.json");
}

// The complete checkpoints under `root`, oldest first.
std::vector<std::pair<int, fs::path>> list_checkpoints(const fs::path& root) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return found;
  for (const auto& entry : fs::directory_iterator(root)) {
    int step = step_of(entry.path().filename().string());
    if (step >= 0 && entry.is_directory() && is_complete(entry.path()))
      found.emplace_back(step, entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::string training_state_to_json(const TrainingState& s) {
  nlohmann::ordered_json j;
  j["step"] = s.step;
  j["train_loader"] = {{"epoch", s.train_loader.epoch},
                       {"position", s.train_loader.position},
                       // As a string: JSON readers in other languages keep only 53 bits of a number.
                       {"epoch_rng_state", std::to_string(s.train_loader.epoch_rng_state)}};
  j["elapsed_seconds"] = s.elapsed_seconds;
  j["batch_size"] = s.batch_size;
  j["seq_len"] = s.seq_len;
  j["grad_accum_steps"] = s.grad_accum_steps;
  j["seed"] = std::to_string(s.seed);
  return j.dump(2) + "\n";
}

TrainingState training_state_from_json(const std::string& text, const std::string& name) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  GPT2_CHECK(!j.is_discarded() && j.is_object(), name, ": not a JSON object");
  // Each field with its type and range (json_fields.h): a damaged file is an error naming the
  // field, never a value cast silently into something else.
  constexpr int64_t kIntMax = INT32_MAX;
  TrainingState s;
  s.step = static_cast<int>(json_int(j, "step", 0, kIntMax, name));
  const nlohmann::json& loader = json_object(j, "train_loader", name);
  s.train_loader.epoch = json_int(loader, "epoch", 0, INT64_MAX, name);
  s.train_loader.position = json_int(loader, "position", 0, INT64_MAX, name);
  s.train_loader.epoch_rng_state = json_u64_string(loader, "epoch_rng_state", name);
  s.elapsed_seconds = json_number(j, "elapsed_seconds", name);
  GPT2_CHECK(s.elapsed_seconds >= 0, name, ": 'elapsed_seconds' must be a finite number >= 0, got ",
             s.elapsed_seconds);
  s.batch_size = static_cast<int>(json_int(j, "batch_size", 1, kIntMax, name));
  s.seq_len = static_cast<int>(json_int(j, "seq_len", 1, kIntMax, name));
  s.grad_accum_steps = static_cast<int>(json_int(j, "grad_accum_steps", 1, kIntMax, name));
  s.seed = json_u64_string(j, "seed", name);
  return s;
}

fs::path checkpoint_dir(const fs::path& out_dir, int step) {
  return out_dir / "checkpoints" / step_dir_name(step);
}

fs::path save_checkpoint(const fs::path& out_dir, const TrainableModel& model, const AdamW& optimizer,
                         const TrainingState& state, int keep) {
  return save_checkpoint(out_dir, model, optimizer.state(), state, keep);
}

fs::path save_checkpoint(const fs::path& out_dir, const TrainableModel& model, const AdamWState& optimizer,
                         const TrainingState& state, int keep) {
  const fs::path root = out_dir / "checkpoints";
  const fs::path final_dir = checkpoint_dir(out_dir, state.step);
  fs::path tmp_dir = final_dir;
  tmp_dir += ".tmp";
  gpt2::create_directories(root);
  gpt2::remove_all(tmp_dir);  // left over from a crash
  gpt2::create_directories(tmp_dir);

  // 1. Every file into the temporary directory; state.json last marks it complete.
  model.save(tmp_dir);
  write_adamw_state(tmp_dir / "optimizer.safetensors", optimizer);
  write_file_atomic(tmp_dir / "state.json", training_state_to_json(state));

  // 2. The directory takes its final name. If a checkpoint of this step exists already (a run
  // resumed and stopped again at once), move it aside first and delete it only afterwards.
  fs::path old_dir;
  std::error_code ec;
  if (fs::exists(final_dir)) {
    old_dir = final_dir;
    old_dir += ".old";
    gpt2::remove_all(old_dir);
    fs::rename(final_dir, old_dir, ec);
    GPT2_CHECK(!ec, "cannot rename '", final_dir.string(), "': ", ec.message());
  }
  fs::rename(tmp_dir, final_dir, ec);
  GPT2_CHECK(!ec, "cannot rename '", tmp_dir.string(), "' to '", final_dir.string(), "': ", ec.message());

  // 3. Point `latest` at it (atomically), then drop what is no longer needed.
  write_file_atomic(root / "latest", step_dir_name(state.step) + "\n");
  if (!old_dir.empty()) gpt2::remove_all(old_dir);
  auto all = list_checkpoints(root);
  keep = std::max(keep, 1);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    if (all[i].second != final_dir) gpt2::remove_all(all[i].second);
  }
  return final_dir;
}

std::optional<fs::path> latest_checkpoint(const fs::path& out_dir) {
  const fs::path root = out_dir / "checkpoints";
  std::error_code ec;
  if (fs::exists(root / "latest", ec)) {
    std::string name = read_file(root / "latest");
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' '))
      name.pop_back();
    if (step_of(name) >= 0 && is_complete(root / name)) return root / name;
  }
  auto all = list_checkpoints(root);  // `latest` missing or stale: the newest complete one
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

TrainingState load_checkpoint(const fs::path& dir, TrainableModel& model, AdamW& optimizer) {
  AdamWState moments;
  TrainingState state = load_checkpoint(dir, model, moments);
  optimizer.set_state(moments);
  return state;
}

TrainingState load_checkpoint(const fs::path& dir, TrainableModel& model, AdamWState& optimizer) {
  GPT2_CHECK(is_complete(dir), "'", dir.string(), "' is not a complete checkpoint (no state.json)");
  TrainingState state =
      training_state_from_json(read_file(dir / "state.json"), (dir / "state.json").string());
  AdamWState moments = read_adamw_state(dir / "optimizer.safetensors", model.params().size());
  GPT2_CHECK(moments.step == state.step, (dir / "optimizer.safetensors").string(), ": optimizer step ",
             moments.step, " does not match state.json's step ", state.step);
  model.load(dir);
  optimizer = std::move(moments);
  return state;
}

}  // namespace gpt2
