// ch02_demo: the embedding of a short sequence, and a picture of the sinusoidal positional table.
//
//   ch02_demo [output.svg]      (default: sinusoidal_positional_encoding.svg in the current directory)
//
// The embedding tables here are random (the trained ones come with chapter 05's checkpoint); what
// the demo shows is the mechanics: the same token at two positions gives two different vectors,
// and the fixed sinusoidal table is a smooth, distinct pattern per position.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/02_embeddings/positional_encoding.h"
#include "common/plot.h"
#include "common/rng.h"

int main(int argc, char** argv) {
  try {
    const std::string svg = argc > 1 ? argv[1] : "sinusoidal_positional_encoding.svg";

    // 1) Token + learned positional embedding of a 4-token sequence (GPT-2 initialises both
    //    tables with N(0, 0.02); we use the same scale).
    const int V = 10, max_T = 8, C = 6, T = 4;
    gpt2::Rng rng(1337);
    std::vector<float> wte(V * C), wpe(max_T * C), out(T * C);
    rng.fill_normal(wte, 0.0f, 0.02f);
    rng.fill_normal(wpe, 0.0f, 0.02f);
    const std::vector<int> tokens = {7, 2, 7, 5};  // token 7 at positions 0 and 2
    gpt2::check_tokens(tokens.data(), tokens.size(), V);
    gpt2::encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), 1, T, C);
    std::printf("embedding of tokens {7, 2, 7, 5} (C = %d, random tables):\n", C);
    for (int t = 0; t < T; ++t) {
      std::printf("  t=%d token %d:", t, tokens[t]);
      for (int c = 0; c < C; ++c) std::printf(" %+.4f", out[t * C + c]);
      std::printf("\n");
    }
    std::printf("(rows 0 and 2 share wte[7] but differ by wpe[0] - wpe[2])\n\n");

    // 2) The sinusoidal table: 64 positions (rows) by 128 channels (columns).
    const int PT = 64, PC = 128;
    std::vector<float> pe(PT * PC);
    gpt2::sinusoidal_positional_encoding(pe.data(), PT, PC);
    gpt2::HeatMap map;
    map.title = "sinusoidal positional encoding: PE[t, 2i] = sin(t w_i), PE[t, 2i+1] = cos(t w_i)";
    map.x_label = "channel c (pairs 2i, 2i+1; w_i = 10000^(-2i/C), C = 128)";
    map.y_label = "position t";
    map.colour_label = "PE[t, c]";
    map.rows = PT;
    map.cols = PC;
    map.lo = -1.0f;
    map.hi = 1.0f;
    map.cell = 4;
    map.panels.push_back({"", pe});
    gpt2::write_svg(map, svg);
    std::printf("sinusoidal table (%d positions x %d channels, -1 dark blue .. +1 yellow) written to %s\n",
                PT, PC, svg.c_str());
    std::printf("left columns change fast with the position (wavelength 2 pi), right ones hardly at all.\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch02_demo: %s\n", e.what());
    return 1;
  }
}
