/// @file line_fit.h
/// @brief Chapter 00: a model with one parameter, its loss, the loss's derivative and gradient
/// descent.
///
/// The model predicts y from x with one number w, the slope of a line through the origin:
/// \f$ \hat y = w x \f$. On N examples \f$ (x_i, y_i) \f$ its loss is the mean squared error
/// \f[ L(w) = \frac1N \sum_i (w x_i - y_i)^2, \qquad
///     \frac{dL}{dw} = \frac2N \sum_i (w x_i - y_i)\, x_i . \f]
/// Gradient descent repeats \f$ w \leftarrow w - \eta\, dL/dw \f$ with a learning rate \f$ \eta \f$.
#pragma once

#include <span>
#include <vector>

#include "common/error.h"

namespace gpt2 {

/// The forward pass: L(w), the mean squared error of the predictions w x_i against y_i.
inline double line_loss(double w, std::span<const double> x, std::span<const double> y) {
  GPT2_CHECK(x.size() == y.size() && !x.empty(), "line_loss: ", x.size(), " x values and ", y.size(),
             " y values");
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double error = w * x[i] - y[i];  // prediction minus target
    sum += error * error;
  }
  return sum / static_cast<double>(x.size());
}

/// The backward pass: ADDS dL/dw = (2/N) sum_i (w x_i - y_i) x_i into dw. Adding, not assigning,
/// is the rule of every backward in the course (chapter 00 explains why); the caller zeroes dw
/// before a step.
inline void line_loss_backward(double& dw, double w, std::span<const double> x, std::span<const double> y) {
  GPT2_CHECK(x.size() == y.size() && !x.empty(), "line_loss_backward: ", x.size(), " x values and ", y.size(),
             " y values");
  const double n = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    // The chain rule through prediction_i = w x_i and error_i = prediction_i - y_i:
    // dL/derror_i = 2 error_i / N, derror_i/dw = x_i.
    const double error = w * x[i] - y[i];
    dw += 2.0 * error / n * x[i];
  }
}

/// One point of a run of gradient descent: the parameter and the loss before update `step`.
struct DescentStep {
  int step = 0;
  double w = 0;
  double loss = 0;
};

/// Gradient descent on L(w) from w0: `steps` updates w <- w - lr dL/dw. Returns steps + 1 points:
/// the start and the state after each update. Each step is the loop every training run of the
/// course repeats: zero the gradient, forward, backward, update.
inline std::vector<DescentStep> fit_line(std::span<const double> x, std::span<const double> y, double w0,
                                         double lr, int steps) {
  std::vector<DescentStep> trace;
  double w = w0;
  for (int step = 0;; ++step) {
    const double loss = line_loss(w, x, y);  // forward
    trace.push_back({step, w, loss});
    if (step == steps) break;
    double dw = 0;                    // zero the gradient
    line_loss_backward(dw, w, x, y);  // backward
    w -= lr * dw;                     // update
  }
  return trace;
}

/// The exact minimiser, for comparison: L(w) is a parabola in w, and dL/dw = 0 at
/// w* = sum_i x_i y_i / sum_i x_i^2 (least squares).
inline double best_line_slope(std::span<const double> x, std::span<const double> y) {
  double xy = 0, xx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx += x[i] * x[i];
  }
  GPT2_CHECK(xx > 0, "best_line_slope: every x is 0");
  return xy / xx;
}

}  // namespace gpt2
