// Exercises 00: one way to write each task (compare with yours after you have tried).
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "exercise.h"

namespace exercise {

gpt2::Shape row_major_strides(const gpt2::Shape& shape) {
  // Walk from the last dimension to the first: the last has stride 1, and each earlier one
  // skips a whole block of the dimensions after it.
  gpt2::Shape strides(shape.size());
  int64_t block = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = block;
    block *= shape[d];
  }
  return strides;
}

int64_t element_offset(const gpt2::Shape& strides, const std::vector<int64_t>& index) {
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
  return offset;
}

double line_loss_and_gradient(double w, double b, std::span<const double> x, std::span<const double> y,
                              double& dw, double& db) {
  GPT2_CHECK(x.size() == y.size() && !x.empty(), "line_loss_and_gradient: ", x.size(), " x and ", y.size(),
             " y values");
  const double n = static_cast<double>(x.size());
  double loss = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double error = w * x[i] + b - y[i];
    loss += error * error / n;
    // dL/derror_i = 2 error_i / N; derror_i/dw = x_i, derror_i/db = 1.
    dw += 2 * error / n * x[i];
    db += 2 * error / n;
  }
  return loss;
}

void gradient_descent(
    std::vector<double>& params,
    const std::function<void(const std::vector<double>&, std::vector<double>&)>& add_gradient, double lr,
    int steps) {
  std::vector<double> grads(params.size());
  for (int step = 0; step < steps; ++step) {
    std::fill(grads.begin(), grads.end(), 0.0);  // the gradient of this step only
    add_gradient(params, grads);
    for (size_t i = 0; i < params.size(); ++i) params[i] -= lr * grads[i];
  }
}

void residual_neuron_backward(double x, double w, double b, double& dx, double& dw, double& db) {
  // Forward, keeping every intermediate value.
  const double z = w * x + b;
  const double h = std::tanh(z);
  const double r = x + h;
  // Backward, last line first. dL/dr, dL/dh, dL/dz are this pass's own (local) gradients.
  const double dr = 2 * r;             // L = r^2
  const double dh = dr;                // r = x + h: the sum hands dr to h ...
  dx += dr;                            // ... and to x (x's first use)
  const double dz = dh * (1 - h * h);  // h = tanh(z), tanh' = 1 - tanh^2
  dw += dz * x;                        // z = w x + b
  db += dz;
  dx += dz * w;  // x's second use
}

std::vector<double> central_differences(const std::function<double(std::span<const double>)>& f,
                                        std::span<const double> x, double eps) {
  std::vector<double> point(x.begin(), x.end()), grad(x.size());
  for (size_t i = 0; i < point.size(); ++i) {
    point[i] = x[i] + eps;
    const double plus = f(point);
    point[i] = x[i] - eps;
    const double minus = f(point);
    point[i] = x[i];  // put it back before the next coordinate
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad;
}

}  // namespace exercise
