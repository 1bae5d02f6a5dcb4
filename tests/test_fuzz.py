"""Property-based fuzzing of the core: whatever a user or a corrupted file hands it, loading, analysing and
every estimator (X-CUBE-AI and TFLM, float32 and int8, every compression) either give sound numbers or raise
DesignError. Anything else (OverflowError, IndexError, RecursionError, a non-finite or negative size) fails.

A few hundred examples, no TensorFlow; bench/fuzz.py runs the same cases by the ten thousand.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer import designfile
from designer.boards import default_board
from designer.design import Design, DesignError
from designer.generate import EXTREME_VALUES, every_footprint, footprint_problems, fuzz_case
from presets import load_preset, preset_ids
from tui.cli.estimate import estimate_report

PRESETS = [load_preset(p) for p in preset_ids()]
BOARD = default_board()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"estimate --json would hold {name}, which is not strict JSON")


def check(load: object) -> str:
    """Run one input through load -> analyze -> every estimator; 'accepted' or 'named' (a DesignError)."""
    try:
        design = load() if callable(load) else load  # type: ignore[operator]
        footprints = every_footprint(design)
    except DesignError as exc:
        assert str(exc).strip()  # a named problem, not an empty message
        return "named"
    for fp in footprints:
        assert footprint_problems(fp, BOARD) == []
        json.loads(json.dumps(estimate_report(design, fp, BOARD), allow_nan=False), parse_constant=_refuse_constant)
    return "accepted"


@FUZZ
@given(st.randoms(use_true_random=False))
def test_fuzz_cases(rng: random.Random) -> None:
    kind, load = fuzz_case(rng, PRESETS)
    check(load)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    check(lambda: designfile.loads_bytes(raw, source="bytes"))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_random_text(text: str) -> None:
    check(lambda: designfile.loads(text, source="text"))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PRESETS), st.sampled_from(["input_shape", "classes"]), st.integers(0, 2),
       st.sampled_from(EXTREME_VALUES))
def test_extreme_top_level_values(preset: Design, key: str, position: int, value: object) -> None:
    doc = designfile.design_to_dict(preset)
    if key == "input_shape":
        doc[key][position] = value
    else:
        doc[key] = value
    check(lambda: designfile.design_from_dict(doc))


def test_every_case_kind_is_drawn() -> None:
    rng = random.Random(0)
    kinds = {fuzz_case(rng, PRESETS)[0] for _ in range(200)}
    assert kinds == {"stack", "extreme-stack", "large", "odd-head", "mutated-preset", "mutated-text",
                     "bytes"}


def test_both_outcomes_occur() -> None:
    # A fuzzer that only ever produced errors (or only valid designs) would prove little.
    rng = random.Random(1)
    outcomes = {check(fuzz_case(rng, PRESETS)[1]) for _ in range(300)}
    assert outcomes == {"accepted", "named"}


@pytest.mark.parametrize("value", [2**1024, 10**308, float("inf"), float("nan"), -1, 0, 65_537, "8", True])
def test_extreme_filters_are_named(value: object) -> None:
    doc = designfile.design_to_dict(load_preset("model2"))
    doc["layers"][0]["filters"] = value
    with pytest.raises(DesignError, match=r"layer 0 \(conv2d\), key 'filters'"):
        every_footprint(designfile.design_from_dict(doc))
