/// @file tiny_graph.h
/// @brief Chapter 00: reverse-mode differentiation of a tiny graph, op by op.
///
/// The graph computes, from two inputs a and b,
/// \f[ c = a\,b, \qquad d = c + b, \qquad L = d^2 , \f]
/// so \f$ L = (ab + b)^2 \f$. Each operation has a forward (compute the output) and a backward
/// (given \f$ \bar{\mathrm{out}} = \partial L / \partial \mathrm{out} \f$, ADD
/// \f$ \bar{\mathrm{out}} \cdot \partial \mathrm{out} / \partial \mathrm{in} \f$ into each input's
/// gradient). b is used twice, so its gradient is the sum of what the two uses send back: the
/// reason every backward of the course adds into its gradient buffers instead of assigning.
#pragma once

namespace gpt2 {

// The three operations, each as a forward and a backward. `d...` is the gradient of L with
// respect to the named value.

/// out = a * b
inline double mul_forward(double a, double b) {
  return a * b;
}
/// d(out)/da = b, d(out)/db = a.
inline void mul_backward(double& da, double& db, double dout, double a, double b) {
  da += dout * b;
  db += dout * a;
}

/// out = a + b
inline double add_forward(double a, double b) {
  return a + b;
}
/// d(out)/da = d(out)/db = 1: an addition hands its gradient to both inputs unchanged.
inline void add_backward(double& da, double& db, double dout) {
  da += dout;
  db += dout;
}

/// out = x * x
inline double square_forward(double x) {
  return x * x;
}
/// d(out)/dx = 2x.
inline void square_backward(double& dx, double dout, double x) {
  dx += dout * 2.0 * x;
}

/// The values the forward pass computed; the backward pass needs them.
struct TinyGraph {
  double a = 0, b = 0;  // inputs
  double c = 0, d = 0;  // intermediate values
  double loss = 0;      // L
};

/// Forward: c = a b, d = c + b, L = d^2.
inline TinyGraph tiny_graph_forward(double a, double b) {
  TinyGraph g;
  g.a = a;
  g.b = b;
  g.c = mul_forward(a, b);
  g.d = add_forward(g.c, b);
  g.loss = square_forward(g.d);
  return g;
}

/// Backward: the forward's operations in reverse order, starting from dL/dL = 1. ADDS dL/da
/// and dL/db into da and db. The gradients of the intermediate values c and d belong to this one
/// pass: they start from zero here on every call, while the inputs' gradients accumulate (call it
/// twice and da, db hold twice the gradient).
inline void tiny_graph_backward(double& da, double& db, const TinyGraph& g) {
  double dc = 0, dd = 0;
  square_backward(dd, 1.0, g.d);       // L = d^2, and dL/dL = 1
  add_backward(dc, db, dd);            // d = c + b: b's first share
  mul_backward(da, db, dc, g.a, g.b);  // c = a b: b's second share
}

}  // namespace gpt2
