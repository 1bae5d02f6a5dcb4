"""designer.cortex_m: the 32-bit struct sizes and CMSIS-NN scratch formulas both Cortex-M arenas use."""

from __future__ import annotations

import pytest

from designer import cortex_m


def test_struct_savings_halve_the_pointers() -> None:
    assert cortex_m.EVAL_TENSOR.saving_bytes == 12 and cortex_m.NODE_AND_REGISTRATION.saving_bytes == 32
    # The reduced TfLiteTensor: 37 B of fields padded to 40 on a Cortex-M, 64 on the host.
    assert (cortex_m.PERSISTENT_TENSOR.cortex_m_bytes, cortex_m.PERSISTENT_TENSOR.saving_bytes) == (40, 24)
    assert cortex_m.op_data_pointer_saving_bytes("CONV_2D") == 8
    assert cortex_m.op_data_pointer_saving_bytes("SOFTMAX") == 0


@pytest.mark.parametrize(("kind", "shape", "expected"), [
    # arm_convolve_s8: two int16 im2col columns of align4(c_in * kh * kw) values.
    ("CONV_2D", (3, 16, 5, 5), 2 * 76 * 2),  # 75 values -> 76
    ("CONV_2D", (16, 16, 5, 5), 2 * 400 * 2),
    ("CONV_2D", (32, 64, 1, 1), 0),  # 1x1: arm_convolve_1x1_s8(_fast), no buffer with GCC
    # arm_depthwise_conv_s8_opt: c * kh * kw int16 values, only with channel multiplier 1 and not 3x3.
    ("DEPTHWISE_CONV_2D", (16, 16, 1, 1), 32),
    ("DEPTHWISE_CONV_2D", (16, 16, 5, 5), 16 * 25 * 2),
    ("DEPTHWISE_CONV_2D", (16, 16, 3, 3), 0),  # arm_depthwise_conv_3x3_s8
    ("DEPTHWISE_CONV_2D", (16, 32, 5, 5), 0),  # multiplier 2: arm_depthwise_conv_s8
    ("AVERAGE_POOL_2D", (64, 64, 1, 1), 64 * 4),  # arm_avgpool_s8: one int32 a channel
    ("FULLY_CONNECTED", (128, 10, 1, 1), 0),
    ("MAX_POOL_2D", (64, 64, 1, 1), 0),
])
def test_cmsis_nn_scratch(kind: str, shape: tuple[int, int, int, int], expected: int) -> None:
    assert cortex_m.cmsis_nn_scratch_bytes(kind, *shape) == expected


def test_cmsis_nn_op_data_only_for_convolutions() -> None:
    # Model4 has 8 conv/depthwise ops: 96 B for the 92 B its CMSIS-NN tail needed beyond the reference one.
    kinds = ["CONV_2D", "DEPTHWISE_CONV_2D"] * 4 + ["MAX_POOL_2D"] * 2 + ["RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert sum(cortex_m.cmsis_nn_op_data_extra_bytes(k) for k in kinds) == 96
