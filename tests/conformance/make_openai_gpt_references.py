"""Write the OpenAI GPT (GPT-1) references the conformance tests compare
against.

Run from the repository root in the torch lane's environment (HF
transformers, PyTorch, tokenizers):

    KERAS_BACKEND=torch python -m tests.conformance.make_openai_gpt_references

It writes into tests/conformance/fixtures/:

- `tiny_openai_gpt/` (`config.json`, `generation_config.json`,
  `model.safetensors`): a small `OpenAIGPTLMHeadModel` (vocabulary 90,
  width 12, 3 post-norm blocks of 3 heads, 32 positions, `afn="gelu"`)
  with random weights, made and saved by transformers itself; and
  `vocab.json`, `merges.txt`: a tiny OpenAI-style BPE vocabulary (lower-
  cased, `</w>` word ends, 300 tokens) trained by the `tokenizers` library
  with HF's `OpenAIGPTTokenizer` normalizer and splitting;
- `tiny_openai_gpt_reference.npz`: the model's inputs and outputs (float32):
  last hidden states and logits for a right-padded batch, logits for a
  left-padded batch with HF's generation positions (`position_ids` from the
  attention mask); `generate(do_sample=False)` greedy tokens for an
  equal-length batch of prompts, a left-padded batch, and an end token that
  stops one row early (HF's OpenAI GPT has no key/value cache: its generate
  reruns the whole prefix at every step);
- `tiny_openai_gpt_params/`: the same weights in OpenAI's original release
  layout (`params_shapes.json`, `parameters_names.json`, `params_0.npy` ...
  `params_9.npy`), written here from the HF model's tensors following
  OpenAI's `finetune-transformer-lm` code as HF's old
  `load_tf_weights_in_openai_gpt` read it: the position table, the token
  table, then each block's variables in creation order; `conv1d` weights
  `(1, D_in, D_out)`; all flattened, joined, and cut in 10 pieces;
- `tiny_openai_gpt_tokens.json`: HF `OpenAIGPTTokenizer`'s ids (and
  decoded texts) of `TOKENIZER_TEXTS` with that vocabulary.

The tests check kerastack against these on every lane and, where
transformers is installed, that these files are still what transformers
gives.
"""

import json
import os

import numpy as np

from tests.conformance import corpus
from tests.conformance import make_family_references as family

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_openai_gpt")
REFERENCE = os.path.join(FIXTURES, "tiny_openai_gpt_reference.npz")
PARAMS_FOLDER = os.path.join(FIXTURES, "tiny_openai_gpt_params")
TOKENS = os.path.join(FIXTURES, "tiny_openai_gpt_tokens.json")

CONFIG = {
    "vocab_size": 90,
    "n_positions": 32,
    "n_embd": 12,
    "n_layer": 3,
    "n_head": 3,
    "afn": "gelu",
    "layer_norm_epsilon": 1e-5,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
}
NEW_TOKENS = 10
PADDING_ID = 0  # what HF writes after a row's end token (pad_token_id)
END_TOKEN = 89  # OpenAI GPT has none; the tests name one to check stopping
# The greedy tokens must not hang on float rounding: along every greedy path
# the best logit beats the second by at least this much.
MIN_MARGIN = 1e-3
TOKENIZER_VOCABULARY_SIZE = 300
TOKENIZER_TEXTS = (
    family.TEXTS
    + corpus.MULTILINGUAL
    + [
        "",
        "<unk> written in a text, and <UNK>",
        "Don't STOP me now... (2026-12-06) — naïve résumé",
        "line one\nline two\ttabbed",
    ]
)

# Each block's variables in OpenAI's TensorFlow code, in creation order, and
# the HF tensor each is.
OPENAI_BLOCK = [
    ("attn/c_attn/w", "attn.c_attn.weight"),
    ("attn/c_attn/b", "attn.c_attn.bias"),
    ("attn/c_proj/w", "attn.c_proj.weight"),
    ("attn/c_proj/b", "attn.c_proj.bias"),
    ("ln_1/g", "ln_1.weight"),
    ("ln_1/b", "ln_1.bias"),
    ("mlp/c_fc/w", "mlp.c_fc.weight"),
    ("mlp/c_fc/b", "mlp.c_fc.bias"),
    ("mlp/c_proj/w", "mlp.c_proj.weight"),
    ("mlp/c_proj/b", "mlp.c_proj.bias"),
    ("ln_2/g", "ln_2.weight"),
    ("ln_2/b", "ln_2.bias"),
]


def forward_inputs():
    """Token ids `(3, 10)`, a right-padding mask (lengths 10, 7, 4) and a
    left-padding mask (lengths 10, 6, 3)."""
    rng = np.random.default_rng(21)
    ids = rng.integers(0, CONFIG["vocab_size"], size=(3, 10)).astype("int32")
    columns = np.arange(10)[None, :]
    right = (columns < np.array([[10], [7], [4]])).astype("int32")
    left = (columns >= 10 - np.array([[10], [6], [3]])).astype("int32")
    return ids, right, left


def prompts():
    """An equal-length batch `(2, 6)`, and a left-padded one `(3, 8)` with
    its mask (lengths 8, 5, 2)."""
    rng = np.random.default_rng(22)
    equal = rng.integers(1, CONFIG["vocab_size"] - 1, size=(2, 6)).astype("int32")
    left = rng.integers(1, CONFIG["vocab_size"] - 1, size=(3, 8)).astype("int32")
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
    config = transformers.OpenAIGPTConfig(**CONFIG)
    model = transformers.OpenAIGPTLMHeadModel._from_config(config)
    _randomize(model)
    return model.eval()


def _randomize(model):
    """Weights far from HF's initialization (std 0.02, zero biases, unit
    norms): every bias and norm offset counts, a swapped layer norm or a
    transposed projection shows, and the logits spread enough for greedy
    choices well apart."""
    import torch

    generator = torch.Generator().manual_seed(10)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight"):
                parameter.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.1 * noise)
            elif "embed" in name:
                # Large embeddings: the post-norm model's greedy paths then
                # wander over many tokens rather than repeat one.
                parameter.copy_(noise)
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
        live = ~(tokens[:, :step] == end_token_id).any(axis=1)
        if live.any():
            margin = min(margin, float((top2[:, 1] - top2[:, 0])[live].min()))
    return tokens, margin


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
    greedy_tokens, margin_a = greedy(model, equal, np.ones_like(equal), END_TOKEN)
    left_tokens, margin_b = greedy(model, left_prompt, left_prompt_mask, END_TOKEN)
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
        "end_token": np.int32(END_TOKEN),
        "padding_id": np.int32(PADDING_ID),
        "min_margin": np.float32(min(margin_a, margin_b, margin_c)),
        "generation_settings": np.array(
            json.dumps(
                {"end_token": generation_settings(END_TOKEN), "stop": generation_settings(stop)}
            )
        ),
    }


def openai_params(state_dict, num_layers):
    """`(shapes, names, flat)`: HF tensors (`{name: array}`, no prefix) in
    OpenAI's release layout."""
    arrays = [state_dict["positions_embed.weight"], state_dict["tokens_embed.weight"]]
    names = ["model/we:0"]
    for index in range(num_layers):
        for openai_name, hf_name in OPENAI_BLOCK:
            array = state_dict[f"h.{index}.{hf_name}"]
            if openai_name.endswith("/w"):
                array = array[None]  # conv1d weights are (1, D_in, D_out)
            arrays.append(array)
            names.append(f"model/h{index}/{openai_name}:0")
    shapes = [list(array.shape) for array in arrays]
    flat = np.concatenate([np.asarray(a, "float32").reshape(-1) for a in arrays])
    return shapes, names, flat


def write_openai_params(folder, state_dict, num_layers):
    shapes, names, flat = openai_params(state_dict, num_layers)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "params_shapes.json"), "w", encoding="utf-8") as file:
        json.dump(shapes, file)
    with open(os.path.join(folder, "parameters_names.json"), "w", encoding="utf-8") as file:
        json.dump(names, file)
    for index, piece in enumerate(np.array_split(flat, 10)):
        np.save(os.path.join(folder, f"params_{index}.npy"), piece)


def hf_state_dict(model):
    """The decoder's tensors of an `OpenAIGPTLMHeadModel`, without the
    `transformer.` prefix, as NumPy."""
    return {
        name[len("transformer.") :]: tensor.detach().numpy()
        for name, tensor in model.state_dict().items()
        if name.startswith("transformer.")
    }


def train_vocabulary(folder):
    """A tiny OpenAI-style BPE vocabulary (`vocab.json`, `merges.txt`):
    HF's `OpenAIGPTTokenizer` normalizer and splitting, `</w>` word ends,
    `<unk>` at id 0."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    engine = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    engine.normalizer = normalizers.BertNormalizer(lowercase=True)
    engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCABULARY_SIZE,
        special_tokens=["<unk>"],
        end_of_word_suffix="</w>",
        limit_alphabet=60,
        show_progress=False,
    )
    engine.train_from_iterator(family.TRAINING_TEXTS * 3, trainer)
    engine.model.save(folder)


def hf_tokens(folder, texts):
    """`{"ids": [...], "decoded": [...]}` of HF's `OpenAIGPTTokenizer` from
    `folder`'s vocabulary."""
    import transformers

    tokenizer = transformers.OpenAIGPTTokenizer.from_pretrained(folder)
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    decoded = [tokenizer.decode(row) for row in ids]
    return {"texts": list(texts), "ids": ids, "decoded": decoded}


def main():
    model = make_model()
    arrays = reference(model)
    if arrays["min_margin"] < MIN_MARGIN:
        raise AssertionError(f"greedy choices only {arrays['min_margin']} apart; pick other seeds")
    model.save_pretrained(FOLDER)
    np.savez(REFERENCE, **arrays)
    write_openai_params(PARAMS_FOLDER, hf_state_dict(model), CONFIG["n_layer"])
    train_vocabulary(FOLDER)
    with open(TOKENS, "w", encoding="utf-8") as file:
        json.dump(hf_tokens(FOLDER, TOKENIZER_TEXTS), file, ensure_ascii=False, indent=0)
    print(
        f"Wrote {FOLDER}, {REFERENCE}, {PARAMS_FOLDER} and {TOKENS} "
        f"(smallest greedy margin {arrays['min_margin']:.4f})."
    )


if __name__ == "__main__":
    main()
