"""Write the T5 references the conformance tests compare against.

Run from the repository root in the torch lane's environment (HF
transformers, PyTorch, `sentencepiece`):

    python -m tests.conformance.make_t5_references

and, in the tensorflow lane's (TensorFlow, to write the Google checkpoint):

    python -m tests.conformance.make_t5_references google

It writes into tests/conformance/fixtures/:

- `tiny_t5_spiece/spiece.model`: a unigram SentencePiece model trained by
  `sentencepiece` on `TRAINING_TEXTS` with T5's special ids (`<pad>` 0,
  `</s>` 1, `<unk>` 2; transformers' `T5Tokenizer` adds the 100
  `<extra_id_N>` tokens above it);
- `tiny_t5/`: a small original T5 (`T5ForConditionalGeneration`, relu
  feed-forward, output tied to the embedding), random weights;
- `tiny_t5_gated/`: a small T5.1.1-style one (gated GELU, its own
  `lm_head`), different encoder and decoder depths from the first;
- `tiny_t5_reference.npz`, `tiny_t5_gated_reference.npz`: the source ids
  (a padded batch of `TEXTS` from the tokenizer), the decoder ids (padded
  targets), the encoder output, the logits (eager attention, float32),
  the greedy `generate` tokens, and the relative position buckets of
  transformers' `_relative_position_bucket`;
- `tiny_t5_google/model.ckpt-100.*` (the tensorflow lane): the gated
  model's weights under Google's Mesh TensorFlow names, with Adafactor's
  slots and `global_step`.

The tests check kerastack against these on every lane and, where
transformers is installed, that they are still what transformers gives.
"""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SPIECE_FOLDER = os.path.join(FIXTURES, "tiny_t5_spiece")
FOLDERS = {
    "tiny_t5": os.path.join(FIXTURES, "tiny_t5"),
    "tiny_t5_gated": os.path.join(FIXTURES, "tiny_t5_gated"),
}
REFERENCES = {name: os.path.join(FIXTURES, f"{name}_reference.npz") for name in FOLDERS}

TRAINING_TEXTS = [
    "translate English to German: The house is wonderful.",
    "summarize: studies have shown that owning a dog is good for you.",
    "The quick brown fox jumps over the lazy dog.",
    "A stitch in time saves nine, and a penny saved is a penny earned.",
    "T5 casts every task as text to text: the input is text, and so is the output.",
    "Relative position buckets are shared by every layer of a stack.",
    "Numbers like 3,141 and 2,718 appear in reports; 10:30 is a time.",
    "It's the model's job to learn what's useful; we've only to give it data.",
    "Café, naïve, résumé and façade keep their accents.",
    "Hello world! Hello again, world? Goodbye, cruel world...",
    "Keras runs the same layer on TensorFlow, JAX and PyTorch.",
    "UPPER CASE, lower case and Mixed Case Words.",
]
TEXTS = [
    "translate English to German: Hello world!",
    "summarize: The quick brown fox jumps, at 10:30.",
    "Unseen: zygote <extra_id_0> xylophone.",
    "Café and naïve <extra_id_1>",
]
TARGETS = [
    "<extra_id_0> Hallo Welt",
    "A fox jumps over a dog. <extra_id_1> twice",
    "zygote",
]
# Tokens greedy generation makes per row (after the start token).
MAX_NEW_TOKENS = 8

# Sizes where loaders break: d_model not a power of two, d_kv * num_heads !=
# d_model, encoder and decoder depths that differ, few buckets (so that the
# short sequences reach the logarithmic ones and the last one).
CONFIGS = {
    "tiny_t5": {
        "d_model": 20,
        "d_kv": 6,
        "num_heads": 3,
        "d_ff": 24,
        "num_layers": 2,
        "num_decoder_layers": 3,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 12,
        "feed_forward_proj": "relu",
        "tie_word_embeddings": True,
    },
    "tiny_t5_gated": {
        "d_model": 20,
        "d_kv": 8,
        "num_heads": 2,
        "d_ff": 28,
        "num_layers": 3,
        "num_decoder_layers": 2,
        "relative_attention_num_buckets": 10,
        "relative_attention_max_distance": 16,
        "feed_forward_proj": "gated-gelu",
        "tie_word_embeddings": False,
    },
}
# The model's vocabulary: the tokenizer's 100 pieces and 100 extra ids, and
# 4 unused rows (T5's released models also have more rows than the
# tokenizer has tokens).
SPIECE_SIZE = 100
VOCABULARY_SIZE = SPIECE_SIZE + 100 + 4


def train_sentencepiece(folder):
    """`folder/spiece.model`: unigram, `<pad>` 0, `</s>` 1, `<unk>` 2, no `<s>`."""
    import sentencepiece

    os.makedirs(folder, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXTS),
        model_prefix=os.path.join(folder, "spiece"),
        vocab_size=SPIECE_SIZE,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=True,
        # No normalization table: it would make the file 240 KB.
        normalization_rule_name="identity",
        num_threads=1,
        minloglevel=2,
    )
    os.remove(os.path.join(folder, "spiece.vocab"))


def t5_tokenizer(folder=SPIECE_FOLDER):
    import transformers

    return transformers.T5Tokenizer.from_pretrained(folder)


def reference_inputs(tokenizer):
    sources = tokenizer(TEXTS, padding=True, return_tensors="np")
    targets = tokenizer(TARGETS, padding=True, return_tensors="np")
    # The decoder reads the targets shifted right, from the start token 0.
    labels = targets["input_ids"]
    decoder_ids = np.concatenate([np.zeros((len(TARGETS), 1), labels.dtype), labels[:, :-1]], 1)
    decoder_mask = np.concatenate(
        [np.ones((len(TARGETS), 1), labels.dtype), targets["attention_mask"][:, :-1]], 1
    )
    return {
        "source_ids": sources["input_ids"].astype("int32"),
        "source_mask": sources["attention_mask"].astype("int32"),
        "decoder_ids": decoder_ids.astype("int32"),
        "decoder_mask": decoder_mask.astype("int32"),
    }


def relative_buckets(config):
    """transformers' buckets of relative positions -40..40 (this config's
    settings) and -300..300 (T5's 32 and 128), both directions."""
    import torch
    from transformers.models.t5.modeling_t5 import T5Attention

    bucket = T5Attention._relative_position_bucket
    near = torch.arange(-40, 41)
    far = torch.arange(-300, 301)
    settings = {
        "num_buckets": config["relative_attention_num_buckets"],
        "max_distance": config["relative_attention_max_distance"],
    }
    return {
        "bucket_positions": near.numpy().astype("int32"),
        "buckets_bidirectional": bucket(near, True, **settings).numpy().astype("int32"),
        "buckets_causal": bucket(near, False, **settings).numpy().astype("int32"),
        "default_bucket_positions": far.numpy().astype("int32"),
        "default_buckets_bidirectional": bucket(far, True, 32, 128).numpy().astype("int32"),
        "default_buckets_causal": bucket(far, False, 32, 128).numpy().astype("int32"),
    }


def model_outputs(model, inputs):
    """Encoder output, logits and greedy tokens of `model` on `inputs`."""
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    def tensor(name):
        return torch.tensor(inputs[name], dtype=torch.long)

    with torch.no_grad():
        outputs = model(
            input_ids=tensor("source_ids"),
            attention_mask=tensor("source_mask"),
            decoder_input_ids=tensor("decoder_ids")[: len(TARGETS)].repeat(2, 1)[: len(TEXTS)],
            decoder_attention_mask=tensor("decoder_mask").repeat(2, 1)[: len(TEXTS)],
        )
        generated = model.generate(
            input_ids=tensor("source_ids"),
            attention_mask=tensor("source_mask"),
            do_sample=False,
            num_beams=1,
            max_new_tokens=MAX_NEW_TOKENS,
            # A cache sized by the decoder's own depth (transformers 5.24
            # sizes its default by the encoder's).
            cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
        ).numpy()
        # The margin between the best two logits at every greedy step: far
        # above float32's spread, so the choice does not flip across lanes.
        scores = model.generate(
            input_ids=tensor("source_ids"),
            attention_mask=tensor("source_mask"),
            do_sample=False,
            num_beams=1,
            max_new_tokens=MAX_NEW_TOKENS,
            cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
            output_logits=True,
            return_dict_in_generate=True,
        ).logits
    margins = [float((s.topk(2).values[:, 0] - s.topk(2).values[:, 1]).min()) for s in scores]
    # Rows after the start token, padded to MAX_NEW_TOKENS (rows ending early
    # are padded by transformers with the pad id, 0).
    tokens = np.zeros((len(TEXTS), MAX_NEW_TOKENS), "int32")
    tokens[:, : generated.shape[1] - 1] = generated[:, 1:]
    return {
        "encoder_output": outputs.encoder_last_hidden_state.numpy(),
        "logits": outputs.logits.numpy(),
        "generated": tokens,
        "greedy_margin": np.float32(min(margins)),
    }


def _perturb(model):
    """Norms away from 1 and a larger relative position bias, so that a
    swapped or missing one shows."""
    import torch

    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "layer_norm" in name:
                parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
            if "relative_attention_bias" in name:
                parameter.normal_(0.0, 1.0, generator=generator)


def make_model(name, tokenizer, inputs):
    import torch
    import transformers

    config = transformers.T5Config(
        vocab_size=VOCABULARY_SIZE,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        attn_implementation="eager",
        **CONFIGS[name],
    )
    torch.manual_seed(21 if name == "tiny_t5" else 22)
    model = transformers.T5ForConditionalGeneration(config).eval()
    _perturb(model)
    if not CONFIGS[name]["tie_word_embeddings"]:
        with torch.no_grad():
            head = torch.randn(model.lm_head.weight.shape) * 0.5
            model.lm_head.weight = torch.nn.Parameter(head)
    folder = FOLDERS[name]
    model.save_pretrained(folder)
    reloaded = transformers.T5ForConditionalGeneration.from_pretrained(
        folder, attn_implementation="eager"
    ).eval()
    for (key, value), (_, again) in zip(
        model.state_dict().items(), reloaded.state_dict().items(), strict=True
    ):
        if not torch.equal(value, again):
            raise RuntimeError(f"{name}: {key} did not survive save_pretrained")
    outputs = model_outputs(reloaded, inputs)
    if outputs["greedy_margin"] < 1e-3:
        raise RuntimeError(f"{name}: greedy choices too close ({outputs['greedy_margin']})")
    np.savez(REFERENCES[name], **inputs, **outputs, **relative_buckets(CONFIGS[name]))


GOOGLE_FOLDER = os.path.join(FIXTURES, "tiny_t5_google")


def mesh_tensorflow_name(hf_name):
    """`(name, transpose)` of an HF T5 tensor in Google's T5 checkpoints,
    by Mesh TensorFlow's own rules (not kerastack's)."""
    if hf_name == "shared.weight":
        return "shared/embedding", False
    if hf_name == "lm_head.weight":
        return "decoder/logits/kernel", True
    parts = []
    pieces = hf_name.split(".")[:-1]  # without "weight"
    index = 0
    while index < len(pieces):
        if pieces[index] in ("block", "layer"):
            parts.append(f"{pieces[index]}_{int(pieces[index + 1]):03d}")
            index += 2
        else:
            parts.append(pieces[index])
            index += 1
    if parts[-1].endswith("layer_norm"):
        return "/".join(parts + ["scale"]), False
    if parts[-2] == "DenseReluDense":
        return "/".join(parts + ["kernel"]), True
    return "/".join(parts), True  # q, k, v, o, relative_attention_bias


def make_google(name="tiny_t5_gated"):
    """`tiny_t5_google/model.ckpt-100`: the weights of `name`'s checkpoint
    under Google's names, with Adafactor's slots and `global_step`, saved by
    TensorFlow's `tf.compat.v1.train.Saver` (run in the tensorflow lane)."""
    import tensorflow as tf
    from safetensors.numpy import load_file

    tensors = load_file(os.path.join(FOLDERS[name], "model.safetensors"))
    os.makedirs(GOOGLE_FOLDER, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        for hf_name, value in sorted(tensors.items()):
            if hf_name.endswith("embed_tokens.weight"):
                continue  # copies of shared.weight
            google, transpose = mesh_tensorflow_name(hf_name)
            value = np.ascontiguousarray(value.T if transpose else value)
            tf.compat.v1.get_variable(google, initializer=value)
            if value.ndim == 2:  # Adafactor's factored second moments
                tf.compat.v1.get_variable(f"{google}_slot_vr", initializer=value[:, 0] * 0)
                tf.compat.v1.get_variable(f"{google}_slot_vc", initializer=value[0] * 0)
            else:
                tf.compat.v1.get_variable(f"{google}_slot_v", initializer=value * 0)
        step = tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(step.assign(100))
            saver.save(session, os.path.join(GOOGLE_FOLDER, "model.ckpt"), global_step=100,
                       write_meta_graph=False)  # fmt: skip
    os.remove(os.path.join(GOOGLE_FOLDER, "checkpoint"))
    print(f"Wrote {GOOGLE_FOLDER}: {sorted(os.listdir(GOOGLE_FOLDER))}")


def main():
    import sys

    if sys.argv[1:] == ["google"]:
        make_google()
        return
    train_sentencepiece(SPIECE_FOLDER)
    tokenizer = t5_tokenizer()
    inputs = reference_inputs(tokenizer)
    for name in FOLDERS:
        make_model(name, tokenizer, inputs)
    print(f"Wrote {SPIECE_FOLDER}, {', '.join(FOLDERS.values())} and their references.")


if __name__ == "__main__":
    main()
