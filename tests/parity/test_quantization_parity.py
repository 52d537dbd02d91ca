"""Exercise 4.7 (int8 / int4 quantization) vs PyTorch.

int8: ``torch.quantize_per_tensor`` / ``torch.quantize_per_channel`` with zero point 0 and
``torch.qint8``, given our float32 scales, must produce the same integers (``int_repr``) and
the same dequantized weights. torch rounds half to even (``nearbyint``) and clamps to
[-128, 127]; with scale = absmax / 127 every value lands in [-127, 127], so the two agree.
int4: torch has no int4 tensor type, so the comparison is a direct torch implementation with
bit operations on uint8 tensors (two's complement nibbles, row 2i in the low nibble, sign
extension by arithmetic shifts of int8).
"""

import numpy as np
import pytest
import torch

from reference.llm.quantization import (
    dequantize_int4,
    dequantize_int8,
    quantize_int4,
    quantize_int8,
    quantized_linear,
)

# torch's quantized tensor types are deprecated (still present); the comparison stands.
pytestmark = pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")

SHAPES = [(64, 48), (7, 5), (128, 96)]


def weight(shape, seed, outliers=True):
    rng = np.random.default_rng(seed)
    w = (0.02 * rng.standard_normal(shape) * rng.uniform(0.2, 3.0, size=shape[1])).astype(
        np.float32)
    if outliers:
        w[rng.integers(shape[0]), rng.integers(shape[1])] = 0.5  # a GPT-style outlier
    return w


@pytest.mark.parametrize("shape", SHAPES)
def test_int8_per_tensor_matches_torch(shape):
    w = weight(shape, 0)
    q, scale = quantize_int8(w)
    tq = torch.quantize_per_tensor(torch.from_numpy(w), float(scale.item()), 0, torch.qint8)
    np.testing.assert_array_equal(q, tq.int_repr().numpy())
    np.testing.assert_array_equal(dequantize_int8(q, scale), tq.dequantize().numpy())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [0, 1])
def test_int8_per_channel_matches_torch(shape, axis):
    w = weight(shape, 1)
    w[:, 2] = 0.0  # an all-zero column: our scale there is 1.0, torch needs scale > 0 too
    q, scale = quantize_int8(w, axis=axis)
    tq = torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(scale.reshape(-1))
                                    .double(), torch.zeros(w.shape[axis], dtype=torch.long),
                                    axis, torch.qint8)
    np.testing.assert_array_equal(q, tq.int_repr().numpy())
    np.testing.assert_array_equal(dequantize_int8(q, scale), tq.dequantize().numpy())


def test_int8_ties_round_half_to_even_as_torch():
    w = np.array([[127.0, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, 3.5]], dtype=np.float32)
    q, scale = quantize_int8(w)
    assert scale.item() == 1.0
    tq = torch.quantize_per_tensor(torch.from_numpy(w), 1.0, 0, torch.qint8)
    np.testing.assert_array_equal(q, tq.int_repr().numpy())
    np.testing.assert_array_equal(q, [[127, 2, -2, 0, 0, 2, -2, 4]])


def torch_quantize_int4(w, group_size):
    """A direct torch version: group absmax / 7, round half to even, nibbles by bit ops."""
    n_in, n_out = w.shape
    g = w.reshape(n_in // group_size, group_size, n_out)
    absmax = g.abs().amax(dim=1)
    scales = torch.where(absmax > 0, absmax / 7, torch.ones_like(absmax)).float()
    q = torch.clamp(torch.round(g / scales[:, None, :]), -7, 7).to(torch.int8).reshape(n_in,
                                                                                        n_out)
    u = q.view(torch.uint8)  # the same bits: two's complement
    packed = (u[0::2] & 0x0F) | ((u[1::2] & 0x0F) << 4)
    return packed, scales


def torch_dequantize_int4(packed, scales, group_size):
    s = packed.view(torch.int8)
    low = (s << 4) >> 4  # arithmetic shift right: sign-extends bit 3
    high = s >> 4
    q = torch.stack([low, high], dim=1).reshape(2 * packed.shape[0], packed.shape[1])
    return (q.float().reshape(-1, group_size, packed.shape[1]) * scales[:, None, :]).reshape(
        q.shape)


@pytest.mark.parametrize("shape", SHAPES[::2])
@pytest.mark.parametrize("group_size", [16, 32, 64])
def test_int4_matches_torch_bit_ops(shape, group_size):
    w = weight(shape, 2)
    w[:group_size, 3] = 0.0  # an all-zero group
    packed, scales = quantize_int4(w, group_size)
    t_packed, t_scales = torch_quantize_int4(torch.from_numpy(w), group_size)
    np.testing.assert_array_equal(scales, t_scales.numpy())
    np.testing.assert_array_equal(packed, t_packed.numpy())
    deq = dequantize_int4(packed, scales, group_size)
    np.testing.assert_array_equal(deq, torch_dequantize_int4(t_packed, t_scales,
                                                             group_size).numpy())


def test_int4_all_bytes_unpack_as_torch():
    packed = np.arange(256, dtype=np.uint8).reshape(128, 2)
    scales = np.array([[1.0, 0.5]], dtype=np.float32)
    ours = dequantize_int4(packed, scales, 256)
    theirs = torch_dequantize_int4(torch.from_numpy(packed), torch.from_numpy(scales), 256)
    np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize("group_size", [None, 32])
def test_quantized_linear_matches_torch_linear(group_size):
    w = weight((64, 48), 3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 64)).astype(np.float32)
    b = rng.standard_normal(48).astype(np.float32)
    if group_size is None:
        q, scale = quantize_int8(w, axis=1)
        tq = torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(scale.reshape(-1))
                                        .double(), torch.zeros(48, dtype=torch.long), 1,
                                        torch.qint8)
        w_deq = tq.dequantize()
    else:
        q, scale = quantize_int4(w, group_size)
        w_deq = torch_dequantize_int4(*torch_quantize_int4(torch.from_numpy(w), group_size),
                                      group_size)
    y = quantized_linear(x, q, scale, b, group_size=group_size)
    want = torch.nn.functional.linear(torch.from_numpy(x), w_deq.T, torch.from_numpy(b))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-5, atol=1e-5)
