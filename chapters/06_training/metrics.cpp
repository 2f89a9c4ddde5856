#include "metrics.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "common/file_io.h"
#include "common/plot.h"

namespace gpt2 {

const char* metrics_csv_header() {
  return "step,train_loss,val_loss,lr,grad_norm,tokens_per_sec,elapsed_s";
}

std::string metrics_csv_line(const StepMetrics& m) {
  char val[32] = "";
  if (std::isfinite(m.val_loss)) std::snprintf(val, sizeof val, "%.9g", m.val_loss);
  char line[256];
  std::snprintf(line, sizeof line, "%d,%.9g,%s,%.9g,%.9g,%.1f,%.3f", m.step, m.train_loss, val, m.lr,
                m.grad_norm, m.tokens_per_sec, m.elapsed_seconds);
  return line;
}

std::vector<StepMetrics> read_metrics_csv(const std::filesystem::path& path) {
  std::vector<std::string> lines = read_lines(path);
  GPT2_CHECK(!lines.empty() && lines[0] == metrics_csv_header(), path.string(),
             ": not a metrics file (expected the header '", metrics_csv_header(), "')");
  std::vector<StepMetrics> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string> fields;
    std::stringstream ss(lines[i]);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    if (!lines[i].empty() && lines[i].back() == ',') fields.push_back("");
    GPT2_CHECK(fields.size() == 7, path.string(), ":", i + 1, ": expected 7 comma-separated fields, got ",
               fields.size());
    try {
      StepMetrics m;
      m.step = std::stoi(fields[0]);
      m.train_loss = std::stof(fields[1]);
      m.val_loss = fields[2].empty() ? NAN : std::stof(fields[2]);
      m.lr = std::stof(fields[3]);
      m.grad_norm = std::stof(fields[4]);
      m.tokens_per_sec = std::stod(fields[5]);
      m.elapsed_seconds = std::stod(fields[6]);
      rows.push_back(m);
    } catch (const std::exception&) {
      fail(path.string(), ":", i + 1, ": a field is not a number: '", lines[i], "'");
    }
  }
  return rows;
}

MetricsLog::MetricsLog(std::filesystem::path path, int resume_step) : path_(std::move(path)) {
  if (resume_step >= 0 && std::filesystem::exists(path_)) {
    for (const StepMetrics& m : read_metrics_csv(path_)) {
      if (m.step <= resume_step) rows_.push_back(m);
    }
  }
  std::string text = cat(metrics_csv_header(), "\n");
  for (const StepMetrics& m : rows_) text += metrics_csv_line(m) + "\n";
  write_file_atomic(path_, text);
}

void MetricsLog::append(const StepMetrics& m) {
  rows_.push_back(m);
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  GPT2_CHECK(f != nullptr, "cannot append to '", path_.string(), "'");
  std::string line = metrics_csv_line(m) + "\n";
  bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  ok = (std::fclose(f) == 0) && ok;
  GPT2_CHECK(ok, "cannot write to '", path_.string(), "'");
}

void write_loss_plot(const std::vector<StepMetrics>& rows, const std::filesystem::path& path,
                     const std::string& title) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = "step";
  plot.y_label = "loss (cross-entropy, nats)";
  PlotSeries train{"train", {}, {}, ""}, val{"validation", {}, {}, ""};
  for (const StepMetrics& m : rows) {
    train.x.push_back(m.step);
    train.y.push_back(m.train_loss);
    if (std::isfinite(m.val_loss)) {
      val.x.push_back(m.step);
      val.y.push_back(m.val_loss);
    }
  }
  plot.series.push_back(train);
  if (!val.x.empty()) plot.series.push_back(val);
  write_svg(plot, path);
}

}  // namespace gpt2
