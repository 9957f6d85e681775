"""Write the RoFormer references the conformance tests compare against.

HF part, in the torch lane's environment (transformers, PyTorch):

    python -m tests.conformance.make_roformer_references

writes tests/conformance/fixtures/tiny_roformer/: tiny random checkpoints
saved by transformers (`config.json`, `model.safetensors`) of
`RoFormerModel` (`model/`, config `CONFIG`: width 12, three heads),
`RoFormerForMaskedLM` (`masked_lm/`, `MLM_CONFIG`: embedding size 14 !=
width 20, `rotary_value=True`), `RoFormerForSequenceClassification`
(`classifier/`), `RoFormerForTokenClassification` (`token_classifier/`)
and `RoFormerForQuestionAnswering` (`question_answerer/`), and
`reference.npz`: a padded batch (`TOKEN_IDS`, `SEGMENT_IDS`, `MASK`) and
each model's outputs on it (eager attention, float32).

bert4keras part, on tf-keras with the real bert4keras 0.11.5 (the tfkeras
lane's environment):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 \
        python -m tests.conformance.make_roformer_references --bert4keras

writes tests/conformance/fixtures/tiny_roformer_v2/ (RoFormer-v2,
`V2_CONFIG`: embedding size 8 != width 12, relu) and
tests/conformance/fixtures/tiny_roformer_zhuiyi/ (RoFormer v1 with its MLM
head, `ZHUIYI_CONFIG`): `bert_config.json`, a TensorFlow checkpoint
`bert_model.ckpt.*` written by bert4keras's `save_weights_as_checkpoint`
(Zhuiyi's names) from weights drawn under a fixed seed, and
`reference.npz`: what bert4keras's `build_transformer_model`, reading that
checkpoint back, gives on the batch.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_roformer")
REFERENCE = os.path.join(FOLDER, "reference.npz")
V2_FOLDER = os.path.join(FIXTURES, "tiny_roformer_v2")
ZHUIYI_FOLDER = os.path.join(FIXTURES, "tiny_roformer_zhuiyi")

# HF configs: odd widths; head sizes 4 and 10 (even, for rotary pairs).
CONFIG = {
    "vocab_size": 61,
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "pad_token_id": 0,
}
MLM_CONFIG = dict(
    CONFIG,
    embedding_size=14,
    hidden_size=20,
    num_attention_heads=2,
    intermediate_size=28,
    hidden_act="gelu_new",
    rotary_value=True,
)
# Task models, on CONFIG: (folder, transformers class, extra config).
TASKS = {
    "classifier": ("RoFormerForSequenceClassification", {"num_labels": 3}),
    "token_classifier": ("RoFormerForTokenClassification", {"num_labels": 5}),
    "question_answerer": ("RoFormerForQuestionAnswering", {"num_labels": 2}),
}
# Zhuiyi's bert_config.json keys.
V2_CONFIG = {
    "vocab_size": 61,
    "embedding_size": 8,
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "hidden_act": "relu",
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
}
ZHUIYI_CONFIG = dict(V2_CONFIG, hidden_act="gelu")
SEED = 20261221

# A padded batch: 0 pads (bert4keras masks id 0), two segments in row 2.
TOKEN_IDS = np.array(
    [
        [2, 15, 27, 33, 48, 3, 0],
        [2, 61 - 1, 7, 19, 3, 44, 3],
        [2, 9, 3, 0, 0, 0, 0],
    ],
    dtype="int32",
)
SEGMENT_IDS = np.array(
    [[0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0]], dtype="int32"
)
MASK = (TOKEN_IDS != 0).astype("int32")


def _perturb(model):
    """Biases and norms away from their initial zeros and ones, so that a
    swapped or missing one shows."""
    import torch

    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def hf_outputs(model):
    """The model's outputs on the batch, `{name: array}`."""
    import torch

    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(TOKEN_IDS, dtype=torch.long),
            attention_mask=torch.tensor(MASK, dtype=torch.long),
            token_type_ids=torch.tensor(SEGMENT_IDS, dtype=torch.long),
        )
    if hasattr(outputs, "last_hidden_state"):
        return {"sequence": outputs.last_hidden_state.numpy()}
    if hasattr(outputs, "start_logits"):
        return {
            "start_logits": outputs.start_logits.numpy(),
            "end_logits": outputs.end_logits.numpy(),
        }
    return {"logits": outputs.logits.numpy()}


def hf_models():
    """`{folder name: (transformers class name, config dict)}` of the HF fixtures."""
    models = {"model": ("RoFormerModel", CONFIG), "masked_lm": ("RoFormerForMaskedLM", MLM_CONFIG)}
    for name, (class_name, extra) in TASKS.items():
        models[name] = (class_name, dict(CONFIG, **extra))
    return models


def make_hf():
    import torch
    import transformers

    shutil.rmtree(FOLDER, ignore_errors=True)
    arrays = {"token_ids": TOKEN_IDS, "segment_ids": SEGMENT_IDS, "padding_mask": MASK}
    for index, (name, (class_name, config)) in enumerate(hf_models().items()):
        torch.manual_seed(10 + index)
        model_class = getattr(transformers, class_name)
        model = model_class(transformers.RoFormerConfig(**config)).eval()
        _perturb(model)
        folder = os.path.join(FOLDER, name)
        model.save_pretrained(folder)
        model = model_class.from_pretrained(folder, attn_implementation="eager").eval()
        for key, value in hf_outputs(model).items():
            arrays[f"{name}/{key}"] = value
    np.savez(REFERENCE, **arrays)


def _save_bert4keras_checkpoints():
    """Write both bert4keras checkpoints (TensorFlow 1 code: `tf.Session`,
    `tf.train.Saver`; run in a process of its own, in graph mode)."""
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import bert4keras.models
    from bert4keras.models import build_transformer_model

    bert4keras.models.tf = tf.compat.v1
    for folder, settings, model, extra, seed in (
        (V2_FOLDER, V2_CONFIG, "roformer_v2", {}, SEED),
        (ZHUIYI_FOLDER, ZHUIYI_CONFIG, "roformer", {"with_mlm": "linear"}, SEED + 1),
    ):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        config = os.path.join(folder, "bert_config.json")
        with open(config, "w") as file:
            json.dump(settings, file, indent=2)
            file.write("\n")
        built = build_transformer_model(
            config, None, model=model, return_keras_model=False, **extra
        )
        rng = np.random.default_rng(seed)
        values = []
        for weight in built.model.weights:
            value = rng.normal(0.0, 0.15, tuple(weight.shape))
            if "gamma" in weight.name:
                value = 1.0 + value
            values.append(value.astype("float32"))
        built.model.set_weights(values)
        built.save_weights_as_checkpoint(os.path.join(folder, "bert_model.ckpt"))
        for name in os.listdir(folder):  # the tensors only
            if name.endswith(".meta") or name == "checkpoint":
                os.remove(os.path.join(folder, name))


def bert4keras_outputs(folder, model, extra):
    """What bert4keras, reading the checkpoint in `folder` back, gives on
    the batch: the last block's output (and the MLM logits with `extra`)."""
    from bert4keras.backend import keras
    from bert4keras.models import build_transformer_model

    built = build_transformer_model(
        os.path.join(folder, "bert_config.json"),
        os.path.join(folder, "bert_model.ckpt"),
        model=model,
        **extra,
    )
    last = built.get_layer("Transformer-1-FeedForward-Norm").output
    outputs = [last] + ([built.output] if extra else [])
    probe = keras.models.Model(built.inputs, outputs)
    results = probe.predict([TOKEN_IDS, SEGMENT_IDS], verbose=0)
    results = results if isinstance(results, list) else [results]
    names = ["sequence", "mlm_logits"][: len(results)]
    return {name: np.asarray(value, "float32") for name, value in zip(names, results, strict=True)}


def make_bert4keras():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = [sys.executable, "-m", "tests.conformance.make_roformer_references", "--tf1-save"]
    subprocess.run(command, cwd=root, check=True)
    for folder, model, extra in (
        (V2_FOLDER, "roformer_v2", {}),
        (ZHUIYI_FOLDER, "roformer", {"with_mlm": "linear"}),
    ):
        arrays = {"token_ids": TOKEN_IDS, "segment_ids": SEGMENT_IDS, "padding_mask": MASK}
        arrays.update(bert4keras_outputs(folder, model, extra))
        np.savez(os.path.join(folder, "reference.npz"), **arrays)


def main():
    if "--tf1-save" in sys.argv[1:]:
        _save_bert4keras_checkpoints()
    elif "--bert4keras" in sys.argv[1:]:
        make_bert4keras()
        print(f"Wrote {V2_FOLDER} and {ZHUIYI_FOLDER}.")
    else:
        make_hf()
        print(f"Wrote {FOLDER}.")


if __name__ == "__main__":
    main()
