"""GPT-2 against HF transformers, on every Keras 3 lane.

A tiny random `GPT2LMHeadModel` was saved by transformers, with its outputs
and greedy generations, by `python -m tests.conformance.make_gpt2_reference`.
Here kerastack's `GPT2CausalLM`, loaded from that folder, must give the same
hidden states and logits (within ATOL, at real positions: neither model
defines padded ones) and, token by token, the same greedy generations, with
and without its key/value cache; where transformers is installed (the torch
lane) the reference is also recomputed live.
"""

import functools
import importlib.util
import json

import numpy as np
import pytest

from kerastack.gpt import GPT2CausalLM
from tests.conformance import make_gpt2_reference as refs
from tests.testing import to_numpy
from tests.tolerances import RECORDED_GPT2_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# Stated tolerance: float32 kerastack against float32 transformers (eager
# attention), absolute, on outputs of size about 1 (hidden states) to 10
# (logits); tests/tolerances.py says how it was measured.
ATOL = RECORDED_GPT2_ATOL


@functools.cache
def reference():
    return dict(np.load(refs.REFERENCE))


@functools.cache
def model():
    return GPT2CausalLM.from_pretrained(refs.FOLDER)


def test_hidden_states_and_logits_match_transformers():
    data = reference()
    inputs = {"token_ids": data["ids"], "padding_mask": data["right_mask"]}
    real = data["right_mask"].astype(bool)
    hidden = to_numpy(model().backbone.predict(inputs, verbose=0))
    logits = to_numpy(model().predict(inputs, verbose=0))
    np.testing.assert_allclose(hidden[real], data["hidden"][real], atol=ATOL, rtol=0)
    np.testing.assert_allclose(logits[real], data["logits"][real], atol=ATOL, rtol=0)


def test_left_padded_positions_match_transformers():
    # HF's generation positions (from the attention mask) on a left-padded
    # batch: the path `generate` takes with prompt_padding_mask.
    data = reference()
    real = data["left_mask"].astype(bool)
    logits = to_numpy(
        model().decode_sequence(data["ids"], position_ids=data["left_positions"], padding_mask=real)
    )
    np.testing.assert_allclose(logits[real], data["left_logits"][real], atol=ATOL, rtol=0)


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_greedy_generation_matches_transformers(use_cache):
    data = reference()
    settings = {
        "max_new_tokens": refs.NEW_TOKENS,
        "end_token_id": int(data["end_token"]),
        "padding_id": int(data["padding_id"]),
        "use_cache": use_cache,
    }
    np.testing.assert_array_equal(
        model().generate(data["prompt"], **settings), data["prompt_tokens"]
    )
    left = model().generate(
        data["left_prompt"], prompt_padding_mask=data["left_prompt_mask"], **settings
    )
    np.testing.assert_array_equal(left, data["left_prompt_tokens"])


def test_end_token_stops_as_transformers_does():
    data = reference()
    tokens = model().generate(
        data["prompt"],
        max_new_tokens=refs.NEW_TOKENS,
        end_token_id=int(data["stop_token"]),
        padding_id=int(data["padding_id"]),
    )
    np.testing.assert_array_equal(tokens, data["stop_tokens"])
    # The reference does stop early: row 0 ends, then only padding.
    assert (data["stop_tokens"][0] == data["stop_token"]).sum() == 1
    assert data["stop_tokens"][0, -1] == data["padding_id"]


def test_recorded_settings_are_the_ones_compared():
    settings = json.loads(str(reference()["generation_settings"]))
    data = reference()
    for key, end in (("end_token", data["end_token"]), ("stop", data["stop_token"])):
        assert settings[key]["do_sample"] is False and settings[key]["num_beams"] == 1
        assert settings[key]["max_new_tokens"] == refs.NEW_TOKENS
        assert settings[key]["eos_token_id"] == int(end)
        assert settings[key]["pad_token_id"] == int(data["padding_id"])
    assert float(data["min_margin"]) >= refs.MIN_MARGIN


@NEEDS_TRANSFORMERS
def test_reference_is_what_transformers_gives():
    import transformers

    hf = transformers.GPT2LMHeadModel.from_pretrained(refs.FOLDER, attn_implementation="eager")
    live = refs.reference(hf.eval())
    recorded = reference()
    assert sorted(live) == sorted(recorded)
    for name, value in live.items():
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            # The same computation on the same library: only the kernels,
            # and so the order of float32 rounding, may differ.
            np.testing.assert_allclose(value, recorded[name], atol=ATOL, rtol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(value, recorded[name], err_msg=name)
    # And the model rebuilt from its seeds is the one saved in the folder,
    # to a few float32 units in the last place: PyTorch's scalar and vector
    # kernels round the initializer's `0.3 * noise` differently (measured:
    # 4.9e-7 with ATEN_CPU_CAPABILITY=default, weights up to about 1.5).
    made = refs.make_model()
    for (name, a), (_, b) in zip(made.state_dict().items(), hf.state_dict().items(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-6, rtol=0, err_msg=name)
