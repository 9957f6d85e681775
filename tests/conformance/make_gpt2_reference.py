"""Write the GPT-2 reference the conformance tests compare against.

Run from the repository root in the torch lane's environment (HF
transformers, PyTorch):

    KERAS_BACKEND=torch python -m tests.conformance.make_gpt2_reference

It writes into tests/conformance/fixtures/:

- `tiny_gpt2/` (`config.json`, `generation_config.json`,
  `model.safetensors`): a small `GPT2LMHeadModel` (vocabulary 96, width 32,
  2 blocks of 4 heads, 64 positions) with random weights, made and saved by
  transformers itself;
- `tiny_gpt2_reference.npz`: its inputs and outputs (eager attention,
  float32): last hidden states and logits for a right-padded batch, logits
  for a left-padded batch with HF's generation positions (`position_ids`
  from the attention mask); and `generate(do_sample=False)` greedy tokens for an
  equal-length batch of prompts, a left-padded batch, and an end token that
  stops one row early. `generation_settings` (a JSON string) records every
  setting `generate` was given.

The tests check kerastack against these on every lane, and, where
transformers is installed, that these files are still what transformers
gives.
"""

import json
import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_gpt2")
REFERENCE = os.path.join(FIXTURES, "tiny_gpt2_reference.npz")

CONFIG = {
    "vocab_size": 96,
    "n_positions": 64,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    # The last id is <|endoftext|>, as in GPT-2's own vocabulary.
    "bos_token_id": 95,
    "eos_token_id": 95,
}
NEW_TOKENS = 12
PADDING_ID = 0  # what HF writes after a row's end token (pad_token_id)
# The greedy tokens must not hang on float rounding: along every greedy path
# the best logit beats the second by at least this much.
MIN_MARGIN = 1e-3


def forward_inputs():
    """Token ids `(3, 10)`, a right-padding mask (lengths 10, 7, 4) and a
    left-padding mask (lengths 10, 6, 3)."""
    rng = np.random.default_rng(11)
    ids = rng.integers(0, CONFIG["vocab_size"], size=(3, 10)).astype("int32")
    columns = np.arange(10)[None, :]
    right = (columns < np.array([[10], [7], [4]])).astype("int32")
    left = (columns >= 10 - np.array([[10], [6], [3]])).astype("int32")
    return ids, right, left


def prompts():
    """An equal-length batch `(2, 6)`, and a left-padded one `(3, 8)` with
    its mask (lengths 8, 5, 2)."""
    rng = np.random.default_rng(12)
    equal = rng.integers(0, 95, size=(2, 6)).astype("int32")
    left = rng.integers(0, 95, size=(3, 8)).astype("int32")
    left_mask = (np.arange(8)[None, :] >= 8 - np.array([[8], [5], [2]])).astype("int32")
    left = np.where(left_mask == 1, left, PADDING_ID).astype("int32")
    return equal, left, left_mask


def generation_positions(mask):
    """HF's positions during generation: real tokens count from 0, padding 0."""
    positions = np.cumsum(mask, axis=1) - 1
    return np.where(mask == 1, positions, 0).astype("int32")


def make_model():
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(**CONFIG)
    model = transformers.GPT2LMHeadModel._from_config(config, attn_implementation="eager")
    _randomize(model)
    return model.eval()


def _randomize(model):
    """Weights far from HF's initialization (std 0.02, zero biases, unit
    norms): every bias and norm offset counts, a swapped layer norm or a
    transposed projection shows, and the logits spread enough for greedy
    choices well apart."""
    import torch

    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or "ln_f.w" in name:
                parameter.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.1 * noise)
            else:
                parameter.copy_(0.3 * noise)


def forward(model, ids, mask, position_ids=None):
    """`(last hidden states, logits)` as NumPy."""
    import torch

    kwargs = {}
    if position_ids is not None:
        kwargs["position_ids"] = torch.tensor(position_ids, dtype=torch.long)
    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(ids, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
            output_hidden_states=True,
            **kwargs,
        )
    return outputs.hidden_states[-1].numpy(), outputs.logits.numpy()


def generation_settings(end_token_id):
    return {
        "do_sample": False,
        "num_beams": 1,
        "max_new_tokens": NEW_TOKENS,
        "min_new_tokens": 0,
        "eos_token_id": end_token_id,
        "pad_token_id": PADDING_ID,
        "use_cache": True,
    }


def greedy(model, prompt, mask, end_token_id):
    """HF's greedy tokens after the prompt, `(B, NEW_TOKENS)` (padded with
    PADDING_ID where every row stopped early), and the smallest gap between
    the best and second-best logit along the way."""
    import torch
    import transformers

    settings = transformers.GenerationConfig(
        **generation_settings(end_token_id), return_dict_in_generate=True, output_logits=True
    )
    with torch.no_grad():
        outputs = model.generate(
            input_ids=torch.tensor(prompt, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
            generation_config=settings,
        )
    tokens = outputs.sequences[:, prompt.shape[1] :].numpy().astype("int32")
    steps = tokens.shape[1]
    tokens = np.pad(tokens, ((0, 0), (0, NEW_TOKENS - steps)), constant_values=PADDING_ID)
    margin = np.inf
    for step, logits in enumerate(outputs.logits):
        top2 = np.sort(logits.numpy(), axis=-1)[:, -2:]
        live = ~_finished_before(tokens, step, end_token_id)
        if live.any():
            margin = min(margin, float((top2[:, 1] - top2[:, 0])[live].min()))
    return tokens, margin


def _finished_before(tokens, step, end_token_id):
    return (tokens[:, :step] == end_token_id).any(axis=1)


def stopping_token(tokens):
    """A token row 0 emits at a step >= 2 and not before, and no other row
    emits before that step: with it as the end token, row 0 stops early."""
    for step in range(2, NEW_TOKENS - 2):
        token = int(tokens[0, step])
        if token not in tokens[0, :step] and token not in tokens[1:, : step + 1]:
            return token
    raise AssertionError(f"no early stop possible in {tokens}")


def reference(model):
    """Every array of the reference npz, computed by `model`."""
    ids, right, left = forward_inputs()
    hidden, logits = forward(model, ids, right)
    left_positions = generation_positions(left)
    _, left_logits = forward(model, ids, left, left_positions)
    equal, left_prompt, left_prompt_mask = prompts()
    end = CONFIG["eos_token_id"]
    greedy_tokens, margin_a = greedy(model, equal, np.ones_like(equal), end)
    left_tokens, margin_b = greedy(model, left_prompt, left_prompt_mask, end)
    stop = stopping_token(greedy_tokens)
    stop_tokens, margin_c = greedy(model, equal, np.ones_like(equal), stop)
    return {
        "ids": ids,
        "right_mask": right,
        "left_mask": left,
        "left_positions": left_positions,
        "hidden": hidden,
        "logits": logits,
        "left_logits": left_logits,
        "prompt": equal,
        "prompt_tokens": greedy_tokens,
        "left_prompt": left_prompt,
        "left_prompt_mask": left_prompt_mask,
        "left_prompt_tokens": left_tokens,
        "stop_token": np.int32(stop),
        "stop_tokens": stop_tokens,
        "end_token": np.int32(end),
        "padding_id": np.int32(PADDING_ID),
        "min_margin": np.float32(min(margin_a, margin_b, margin_c)),
        "generation_settings": np.array(
            json.dumps({"end_token": generation_settings(end), "stop": generation_settings(stop)})
        ),
    }


def main():
    model = make_model()
    arrays = reference(model)
    if arrays["min_margin"] < MIN_MARGIN:
        raise AssertionError(f"greedy choices only {arrays['min_margin']} apart; pick other seeds")
    model.save_pretrained(FOLDER)
    np.savez(REFERENCE, **arrays)
    print(f"Wrote {FOLDER} and {REFERENCE} (smallest greedy margin {arrays['min_margin']:.4f}).")


if __name__ == "__main__":
    main()
