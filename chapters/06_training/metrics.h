/// @file metrics.h
/// @brief The record of a run: one row per step in `metrics.csv`, and the loss-curve picture.
///
/// `metrics.csv` has the columns
///
///     step,train_loss,val_loss,lr,grad_norm,tokens_per_sec,elapsed_s
///
/// where `step` counts completed optimizer steps (1, 2, ...), `train_loss` is the mean loss of the
/// step's micro-batches (before its update), `val_loss` is empty except on evaluation steps
/// (measured after the update), `grad_norm` is the global norm before clipping, and `elapsed_s`
/// counts the whole run including the time before a resume. Losses are written with 9
/// significant digits, enough to read back the exact float.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gpt2 {

/// One row of metrics.csv.
struct StepMetrics {
  int step = 0;                ///< completed optimizer steps
  float train_loss = 0;        ///< mean loss over the step's micro-batches
  float val_loss = 0;          ///< NaN when not evaluated at this step
  float lr = 0;                ///< learning rate used for the step
  float grad_norm = 0;         ///< global gradient norm before clipping
  double tokens_per_sec = 0;   ///< B·T·(micro-batches) / seconds of this step
  double elapsed_seconds = 0;  ///< since the run began (across resumes)
};

/// The CSV header line (without newline).
const char* metrics_csv_header();
/// One CSV line (without newline) for a row.
std::string metrics_csv_line(const StepMetrics& m);
/// Reads a metrics.csv written by MetricsLog; throws gpt2::Error naming the file and line.
std::vector<StepMetrics> read_metrics_csv(const std::filesystem::path& path);

/// Appends rows to metrics.csv as the run goes (flushed each row, so a crash loses nothing).
class MetricsLog {
 public:
  /// Starts `path`. With resume_step < 0 the file is started afresh; otherwise the rows with
  /// step <= resume_step are kept from the existing file (the later ones belong to the part of an
  /// interrupted run after its last checkpoint, which the resumed run repeats).
  MetricsLog(std::filesystem::path path, int resume_step = -1);

  void append(const StepMetrics& m);
  const std::vector<StepMetrics>& rows() const { return rows_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<StepMetrics> rows_;
};

/// Draws the train loss (every step) and the validation loss (where measured) as an SVG.
void write_loss_plot(const std::vector<StepMetrics>& rows, const std::filesystem::path& path,
                     const std::string& title);

}  // namespace gpt2
