"""The Cortex-M arena derivation against what Model4 and Model5 needed on a Cortex-M4 (issue 15: TFLM
cross-compiled with reference and with CMSIS-NN kernels, run on QEMU mps2-an386), and its pieces on their own."""

from __future__ import annotations

import pytest

from designer.export.cortex_m_arena import (
    Graph,
    GraphOp,
    HostAllocations,
    cortex_m_arena_from_host_measurement,
    live_bytes,
    parse_allocations,
)

_R = "[RecordingMicroAllocator] "
PRINT_ALLOCATIONS = "\n".join(_R + line for line in (
    "Arena allocation total 37984 bytes", "Arena allocation head 32768 bytes", "Arena allocation tail 5216 bytes",
    "'TfLiteEvalTensor data' used 792 bytes with alignment overhead (requested 792 bytes for 33 allocations)",
    "'Persistent TfLiteTensor data' used 128 bytes with alignment overhead (requested 128 bytes for 2 tensors)",
    "'NodeAndRegistration struct' used 832 bytes with alignment overhead (requested 832 bytes for 13 "
    "NodeAndRegistration structs)"))
"""What tflite-micro's print_allocations() wrote for Model4 on the 64-bit host (abridged)."""

ON_TARGET = {"model4": {"cmsis_nn": 38_220, "reference": 36_520, "cmsis_nn_head": 34_368},
             "model5": {"cmsis_nn": 78_136, "reference": 76_820}}
"""Smallest arenas that allocated on the Cortex-M4 (issue 15); Model4's CMSIS-NN head as arena_used reported."""


def test_print_allocations_is_read() -> None:
    host = parse_allocations(PRINT_ALLOCATIONS)
    assert (host.total_bytes, host.head_bytes, host.tail_bytes) == (37_984, 32_768, 5_216)
    assert host.count("TfLiteEvalTensor data") == 33 and host.used("NodeAndRegistration struct") == 832
    assert host.count("Persistent TfLiteTensor data") == 2 and host.used("absent") == 0
    with pytest.raises(ValueError, match="not print_allocations"):
        parse_allocations("nothing here")


def test_scratch_grows_the_head_only_beyond_the_peak() -> None:
    # input 0 (1,024 B) -> conv -> 1 (1,024 B) -> conv -> 2 (16 B). Peak 2,048 B at the first op.
    ops = (GraphOp("CONV_2D", (0, 9, 8), (1,), 100), GraphOp("CONV_2D", (1, 7, 6), (2,), 2000))
    graph = Graph(("CONV_2D",), ops, {0: 1024, 1: 1024, 2: 10}, (0,), (2,))
    assert live_bytes(graph) == [2048, 1040]
    host = HostAllocations(2048 + 500, 2048, 500, {})
    got = cortex_m_arena_from_host_measurement(host, graph)
    # The second op's 2,000 B (2,000 aligned) sit beside 1,040 live bytes: 3,040 - 2,048 more head.
    assert got.cmsis_nn_scratch_head_bytes == 3040 - 2048 and got.largest_scratch_op == "CONV_2D #1"
    # The unitemised 500 B tail counts half; each conv's OpDataConv loses two 4-byte pointer halves, and
    # keeps designer.cortex_m's 12 B more with CMSIS-NN.
    tail = 500 - 250 - 2 * 8
    assert got.reference_bytes == 2048 + tail and got.cmsis_nn_bytes == 3040 + tail + 2 * 12


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["model4", "model5"])
def test_matches_the_cortex_m4_measurements(preset: str) -> None:
    import keras

    from designer import tflite_tools
    from designer.export.cortex_m_arena import measure_host_allocations, read_graph
    from designer.keras_build import build_model
    from presets import load_preset

    keras.utils.set_random_seed(0)
    model = tflite_tools.make_representative(build_model(load_preset(preset), batch_size=1), seed=0)
    tflite = tflite_tools.convert(model, "int8")
    got = cortex_m_arena_from_host_measurement(measure_host_allocations(tflite), read_graph(tflite))
    board = ON_TARGET[preset]
    for kernels in ("cmsis_nn", "reference"):
        derived = getattr(got, f"{kernels}_bytes")
        # Never below what the board needed (an arena that fails is the defect), and within 0.5 % above it.
        assert board[kernels] <= derived <= board[kernels] * 1.005, (kernels, derived)
    if "cmsis_nn_head" in board:
        assert got.head_bytes + got.cmsis_nn_scratch_head_bytes == board["cmsis_nn_head"]
    assert got.host_total_bytes > got.reference_bytes  # the 64-bit host figure is no bound for CMSIS-NN
