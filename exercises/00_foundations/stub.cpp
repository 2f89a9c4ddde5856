// Exercises 00 (your version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 00
// (the tasks, with the maths, are in exercises/00_foundations/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

gpt2::Shape row_major_strides(const gpt2::Shape& shape) {
  // TODO(00.1): the strides of a contiguous row-major tensor (chapter 00, "Shapes and strides").
  (void)shape;
  throw gpt2::Error("exercise 00.1 row_major_strides: not implemented yet");
}

int64_t element_offset(const gpt2::Shape& strides, const std::vector<int64_t>& index) {
  // TODO(00.2): offset = sum over d of index[d] * strides[d].
  (void)strides;
  (void)index;
  throw gpt2::Error("exercise 00.2 element_offset: not implemented yet");
}

double line_loss_and_gradient(double w, double b, std::span<const double> x, std::span<const double> y,
                              double& dw, double& db) {
  // TODO(00.3): return L = (1/N) sum_i (w x_i + b - y_i)^2 and ADD dL/dw and dL/db into dw and db.
  // Derive the two partial derivatives first (chapter 00, "A loss and its derivative").
  (void)w;
  (void)b;
  (void)x;
  (void)y;
  (void)dw;
  (void)db;
  throw gpt2::Error("exercise 00.3 line_loss_and_gradient: not implemented yet");
}

void gradient_descent(
    std::vector<double>& params,
    const std::function<void(const std::vector<double>&, std::vector<double>&)>& add_gradient, double lr,
    int steps) {
  // TODO(00.4): `steps` times: zero the gradient, let add_gradient add into it, update the
  // parameters (chapter 00, "Gradient descent").
  (void)params;
  (void)add_gradient;
  (void)lr;
  (void)steps;
  throw gpt2::Error("exercise 00.4 gradient_descent: not implemented yet");
}

void residual_neuron_backward(double x, double w, double b, double& dx, double& dw, double& db) {
  // TODO(00.5): z = w x + b, h = tanh(z), r = x + h, L = r^2. Run the forward, then go back
  // through the four lines in reverse, ADDING into dx, dw, db (chapter 00, "The chain rule in
  // reverse").
  (void)x;
  (void)w;
  (void)b;
  (void)dx;
  (void)dw;
  (void)db;
  throw gpt2::Error("exercise 00.5 residual_neuron_backward: not implemented yet");
}

std::vector<double> central_differences(const std::function<double(std::span<const double>)>& f,
                                        std::span<const double> x, double eps) {
  // TODO(00.6): one element per coordinate: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps). x is
  // const: perturb a copy (chapter 00, "Checking a gradient a second way").
  (void)f;
  (void)x;
  (void)eps;
  throw gpt2::Error("exercise 00.6 central_differences: not implemented yet");
}

}  // namespace exercise
