"""Fixture for tests/test_safetensors.cpp: the same values stored as F32, F16, BF16 and F64, with
PyTorch's own conversion to float32 as the expected result, so our F16/BF16 decoding is checked
against an independent implementation."""
import torch

from fixture_io import fixture_path, save

values = torch.tensor([0.0, -0.0, 1.0, -2.5, 0.1, 3.14159, 65504.0, 6.1e-5, 1e-7, -1e-6, 123.456, 1e30,
                       float("inf"), -float("inf")], dtype=torch.float64)
tensors = {}
for name, dtype in [("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16), ("f64", torch.float64)]:
    stored = values.to(dtype)
    tensors[name] = stored.reshape(2, 7)
    tensors[name + "_as_f32"] = stored.to(torch.float32).reshape(2, 7)
tensors["ids"] = torch.tensor([[1, -2, 3], [50256, 0, 7]], dtype=torch.int64)
tensors["ids32"] = torch.tensor([5, 6], dtype=torch.int32)
save(fixture_path("common_dtypes.safetensors"), tensors, metadata={"format": "pt"})
