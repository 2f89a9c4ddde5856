/// @file exercises/00_foundations/exercise.h
/// @brief Exercises 00: strides, a loss and its gradient, gradient descent, reverse mode by hand,
/// and finite differences.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/tensor.h"

namespace exercise {

/// 00.1: the row-major strides of a contiguous tensor of this shape, in elements.
/// Example: shape [2, 3, 4] has strides [12, 4, 1]; the empty shape (a scalar) has none.
gpt2::Shape row_major_strides(const gpt2::Shape& shape);

/// 00.2: the offset, in elements from the first one, of element `index` of a tensor with these
/// strides. Example: strides [12, 4, 1], index [1, 2, 3] -> 1*12 + 2*4 + 3*1 = 23.
int64_t element_offset(const gpt2::Shape& strides, const std::vector<int64_t>& index);

/// 00.3: the line y = w x + b on N points (x_i, y_i): returns the mean squared error
/// L = (1/N) sum_i (w x_i + b - y_i)^2 and ADDS dL/dw into dw and dL/db into db.
double line_loss_and_gradient(double w, double b, std::span<const double> x, std::span<const double> y,
                              double& dw, double& db);

/// 00.4: `steps` steps of gradient descent on params. Each step zeroes grads (same size as params),
/// calls add_gradient(params, grads), which ADDS dL/dparams into grads as every backward does,
/// then updates params[i] -= lr * grads[i].
void gradient_descent(
    std::vector<double>& params,
    const std::function<void(const std::vector<double>&, std::vector<double>&)>& add_gradient, double lr,
    int steps);

/// 00.5: reverse mode by hand on a neuron with a residual connection:
///   z = w x + b,  h = tanh(z),  r = x + h,  L = r^2.
/// ADDS dL/dx, dL/dw and dL/db into dx, dw and db. (x is used twice.)
void residual_neuron_backward(double x, double w, double b, double& dx, double& dw, double& db);

/// 00.6: the central finite-difference gradient of f at x: element i is
/// (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), with e_i the i-th unit vector.
std::vector<double> central_differences(const std::function<double(std::span<const double>)>& f,
                                        std::span<const double> x, double eps);

}  // namespace exercise
