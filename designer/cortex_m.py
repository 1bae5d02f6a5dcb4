"""TensorFlow Lite Micro on a 32-bit Cortex-M with CMSIS-NN: struct sizes and scratch-buffer formulas.

The one place these facts live. designer.tflm (the design-time estimate) and designer.export.cortex_m_arena
(the export's derivation from the arena measured on the 64-bit host) both read them, so the two cannot drift.
Pure: no TensorFlow, no I/O. Ops are named as TFLite's builtin codes ("CONV_2D", "DEPTHWISE_CONV_2D", ...).

Struct sizes come from tensorflow/tflite-micro, tensorflow/lite/core/c/common.h built with
TF_LITE_STATIC_MEMORY (TFLM's reduced structs), a pointer and ``size_t`` being 8 B on the x86-64 host and 4 B
on a Cortex-M. The scratch formulas are ARM-software/CMSIS-NN's ``*_get_buffer_size`` for a core with the DSP
extension and no MVE (Cortex-M4/M7/M33: what STM32 parts have), built with GCC (STM32CubeIDE, arm-none-eabi).
"""

from __future__ import annotations

from dataclasses import dataclass

ARENA_ALIGN_BYTES = 16
"""TFLM aligns every arena buffer (head and persistent tail) to 16 bytes (MicroArenaBufferAlignment)."""


@dataclass(frozen=True)
class StructSize:
    """sizeof() of one TFLM struct on the 64-bit host and on a 32-bit Cortex-M, in bytes."""

    host_bytes: int
    cortex_m_bytes: int

    @property
    def saving_bytes(self) -> int:
        """Bytes one instance shrinks by on the Cortex-M."""
        return self.host_bytes - self.cortex_m_bytes


POINTER = StructSize(8, 4)
"""A pointer (or ``size_t``)."""
EVAL_TENSOR = StructSize(24, 12)
"""TfLiteEvalTensor {TfLitePtrUnion data; TfLiteIntArray* dims; TfLiteType type}: one per tensor."""
NODE_AND_REGISTRATION = StructSize(64, 32)
"""NodeAndRegistration (micro_allocator.h) {TfLiteNode node; const TFLMRegistration* registration}: the
reduced TfLiteNode holds six pointers (inputs, outputs, intermediates, user_data, builtin_data,
custom_initial_data) and an int, 28 B (56 B on the host). One per op."""
PERSISTENT_TENSOR = StructSize(64, 40)
"""The reduced TfLiteTensor {TfLiteQuantization (enum + pointer); TfLiteQuantizationParams (float, int32);
data, dims pointers; size_t bytes; TfLiteType; TfLiteAllocationType; bool is_variable}: 37 B padded to 40
(57 B padded to 64 on the host). TFLM keeps one persistent per model input and output."""
AFFINE_QUANTIZATION = StructSize(24, 12)
"""TfLiteAffineQuantization {TfLiteFloatArray* scale; TfLiteIntArray* zero_point; int32 quantized_dimension},
one per persistent int8 tensor."""

_OP_DATA_POINTERS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2}
"""int32_t* fields of the reference kernels' op data: OpDataConv (tensorflow/lite/micro/kernels/conv.h, also
used by depthwise_conv.h) and OpDataFullyConnected keep the per-channel multiplier and shift arrays by
pointer. OpDataConv is 56 B on a Cortex-M, 72 B on the host; everything else in it is int32."""


def op_data_pointer_saving_bytes(kind: str) -> int:
    """Bytes an op's reference-kernel op data loses on a Cortex-M through its pointer fields (4 B each)."""
    return _OP_DATA_POINTERS.get(kind, 0) * POINTER.saving_bytes


CMSIS_NN_CONV_OP_DATA_EXTRA_BYTES = 12
"""Tail bytes a CMSIS-NN conv or depthwise conv keeps beyond the reference kernel's (per op, int8).

tensorflow/lite/micro/kernels/cmsis_nn/conv.cc and depthwise_conv.cc wrap the reference OpDataConv in an
OpData that adds ``int buffer_idx``, and each scratch request leaves a ScratchBufferHandle (one pointer) in
the tail; with the 16-byte alignment the bytes per op are not a whole struct. The figure is the Cortex-M4
measurement (issue 15): the CMSIS-NN tail exceeds the reference one by 92 B on Model4 (8 conv/depthwise ops,
11.5 B each) and by 164 B on Model5 (12 such ops, 13.7 B each). 16 B for every op with a CMSIS-NN kernel
(pools, softmax and fully connected included) would count 192 B and 288 B: twice what the board needed.
"""

_CMSIS_NN_CONV_KINDS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})


def cmsis_nn_op_data_extra_bytes(kind: str) -> int:
    """Tail bytes an int8 op keeps with the CMSIS-NN kernels beyond the reference ones."""
    return CMSIS_NN_CONV_OP_DATA_EXTRA_BYTES if kind in _CMSIS_NN_CONV_KINDS else 0


def _align4(n: int) -> int:
    return -(-n // 4) * 4


def conv_scratch_bytes(in_channels: int, kernel_h: int, kernel_w: int) -> int:
    """Bytes of the scratch buffer CMSIS-NN's int8 conv (arm_convolve_wrapper_s8) requests.

    ARM-software/CMSIS-NN, Source/ConvolutionFunctions/arm_convolve_get_buffer_sizes_s8.c
    (arm_convolve_wrapper_s8_get_buffer_size_dsp): a 1x1 filter (which TFLite never pads) takes
    arm_convolve_1x1_s8_fast (stride 1) or arm_convolve_1x1_s8: no buffer with GCC (the fast path asks for
    ``2 * c_in * sizeof(int16_t)`` only under Arm Compiler 6). Any other filter, the 1xN path included,
    uses arm_convolve_s8_get_buffer_size: two im2col columns of ``align4(c_in * kh * kw)`` int16 values.
    """
    if (kernel_h, kernel_w) == (1, 1):
        return 0
    return 2 * _align4(in_channels * kernel_h * kernel_w) * 2


def depthwise_scratch_bytes(in_channels: int, out_channels: int, kernel_h: int, kernel_w: int) -> int:
    """Bytes of the scratch buffer CMSIS-NN's int8 depthwise conv (arm_depthwise_conv_wrapper_s8) requests.

    ARM-software/CMSIS-NN, Source/ConvolutionFunctions/arm_depthwise_conv_get_buffer_sizes_s8.c and
    arm_depthwise_conv_wrapper_s8.c (V.2.2.0): a channel multiplier other than 1 (out != in channels) runs
    arm_depthwise_conv_s8, no buffer; a 3x3 filter with padding <= 1 runs arm_depthwise_conv_3x3_s8, no
    buffer (TFLite's SAME/VALID padding of a 3x3 filter is at most 1 a side: the total is at most 2);
    anything else arm_depthwise_conv_s8_opt: ``c * kh * kw * sizeof(int16_t)``.
    """
    if out_channels != in_channels or (kernel_h, kernel_w) == (3, 3):
        return 0
    return in_channels * kernel_h * kernel_w * 2


def avgpool_scratch_bytes(channels: int) -> int:
    """Bytes CMSIS-NN's arm_avgpool_s8 requests: one int32 accumulator per channel.

    ARM-software/CMSIS-NN, Source/PoolingFunctions/arm_avgpool_s8.c (arm_avgpool_s8_get_buffer_size, DSP):
    ``ch_src * sizeof(int32_t)``.
    """
    return channels * 4


def cmsis_nn_scratch_bytes(kind: str, in_channels: int, out_channels: int, kernel_h: int = 1,
                           kernel_w: int = 1) -> int:
    """Scratch bytes the CMSIS-NN int8 kernel of one op requests (0 for ops that ask for none).

    Conv, depthwise conv and average pooling as above. arm_fully_connected_s8_get_buffer_size is 0 without
    MVE; max pooling and softmax request nothing; other ops run reference kernels here.
    """
    if kind == "CONV_2D":
        return conv_scratch_bytes(in_channels, kernel_h, kernel_w)
    if kind == "DEPTHWISE_CONV_2D":
        return depthwise_scratch_bytes(in_channels, out_channels, kernel_h, kernel_w)
    if kind == "AVERAGE_POOL_2D":
        return avgpool_scratch_bytes(in_channels)
    return 0
