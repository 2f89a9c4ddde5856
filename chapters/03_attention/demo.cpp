// ch03_demo: attention weights for a short input, printed and drawn as a heat map.
//
//   ch03_demo [output.svg]      (default: attention_weights.svg in the current directory)
//
// There is no trained model yet, so the queries and keys are chosen to make a pattern visible:
// q_t = k_t = alpha * PE_t, the sinusoidal positional encoding of chapter 02. Then
// q_t . k_s = alpha^2 PE_t . PE_s is largest for s = t and falls off with |t - s|, so every
// position attends mostly to itself and its neighbours. The picture shows the same input twice:
// left with the causal mask (GPT-2), right without it.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "chapters/02_embeddings/positional_encoding.h"
#include "chapters/03_attention/attention.h"
#include "common/plot.h"

int main(int argc, char** argv) {
  try {
    const std::string svg = argc > 1 ? argv[1] : "attention_weights.svg";
    const int B = 1, NH = 1, T = 12, HS = 16;
    const float alpha = 2.5f;  // sharpens the pattern: scores scale with alpha^2
    std::vector<float> qk(T * HS), v(T * HS);
    gpt2::sinusoidal_positional_encoding(qk.data(), T, HS);
    for (float& x : qk) x *= alpha;
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < HS; ++i)
        v[t * HS + i] = static_cast<float>(t);  // out_t = mean position attended to

    std::vector<float> out_causal(T * HS), att_causal(T * T), out_full(T * HS), att_full(T * T);
    gpt2::attention_forward(out_causal.data(), att_causal.data(), qk.data(), qk.data(), v.data(), B, NH, T,
                            HS, true);
    gpt2::attention_forward(out_full.data(), att_full.data(), qk.data(), qk.data(), v.data(), B, NH, T, HS,
                            false);

    std::printf("causal attention weights P[t, s] (row t = query position, column s = key position):\n");
    for (int t = 0; t < T; ++t) {
      std::printf("  t=%2d", t);
      for (int s = 0; s < T; ++s) std::printf(" %.2f", att_causal[t * T + s]);
      std::printf("   weighted mean position %.2f\n", out_causal[t * HS]);
    }

    // One picture, two panels: causal | no mask.
    gpt2::HeatMap map;
    map.title = "attention weights P[t, s] of the demo's queries and keys";
    map.x_label = "key position s";
    map.y_label = "query position t";
    map.colour_label = "weight P[t, s]";
    map.rows = map.cols = T;
    map.cell = 20;
    map.panels.push_back({"causal mask (GPT-2)", att_causal});
    map.panels.push_back({"no mask", att_full});
    gpt2::write_svg(map, svg);
    std::printf("\nheat map written to %s (left: causal, right: no mask; 0 dark blue .. 1 yellow)\n",
                svg.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch03_demo: %s\n", e.what());
    return 1;
  }
}
