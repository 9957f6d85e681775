"""Write the ELECTRA references the conformance tests compare against.

Run from the repository root, first in the torch lane's environment (HF
transformers, PyTorch), then in the tensorflow lane's:

    python -m tests.conformance.make_electra_references
    python -m tests.conformance.make_electra_references google

The first writes into tests/conformance/fixtures/tiny_electra/ tiny random
checkpoints saved by transformers (`config.json`, `model.safetensors`), of
odd sizes (embedding width 10, hidden width 12, 3 heads):

- `discriminator/`: `ElectraForPreTraining`;
- `generator/`: `ElectraForMaskedLM` (hidden width 6, 2 heads, tied output,
  tanh-gelu blocks) with the discriminator's embedding tables, as ELECTRA's
  pretraining shares them;
- `classifier/`, `token_classifier/`, `question_answerer/`: the
  `ElectraFor...` task models on the discriminator's encoder, with random
  heads;
- `reference.npz`: their outputs (eager attention, float32) on two padded
  batches.

The second writes `google/`: the discriminator and the generator as one
Google-format TF checkpoint (`model.ckpt.*`, by `tf.compat.v1.train.Saver`,
with Adam slots and `global_step`), named by the rules of Google's ELECTRA
code written out here independently of kerastack's, and the
discriminator's `config.json` (Google shipped none).

A third mode checks `google/` against an independent reader, the real
bert4keras 0.11.5 (its ELECTRA, in the tfkeras lane's environment):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_electra_references bert4keras

It builds the discriminator from `google/` and compares its sequence output
and replaced-token logits with transformers' recorded ones (it prints the
largest differences, and fails above 5e-6).
"""

import json
import os
import re
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_electra")
REFERENCE = os.path.join(FOLDER, "reference.npz")
GOOGLE_FOLDER = os.path.join(FOLDER, "google")

DISCRIMINATOR_CONFIG = {
    "vocab_size": 41,
    "embedding_size": 10,
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
}
GENERATOR_CONFIG = dict(
    DISCRIMINATOR_CONFIG,
    hidden_size=6,
    num_attention_heads=2,
    intermediate_size=12,
    hidden_act="gelu_new",
)
# (task folder, transformers class, extra config) on the discriminator's encoder.
TASKS = (
    ("classifier", "ElectraForSequenceClassification", {"num_labels": 3}),
    ("token_classifier", "ElectraForTokenClassification", {"num_labels": 5}),
    ("question_answerer", "ElectraForQuestionAnswering", {}),
)

# Two padded batches: [CLS] = 2, [SEP] = 3, [PAD] = 0, with segment ids.
BATCHES = {
    "a": (
        np.array(
            [
                [2, 11, 25, 7, 3, 0, 0, 0],
                [2, 40, 4, 19, 3, 33, 8, 3],
                [2, 5, 3, 0, 0, 0, 0, 0],
            ],
            "int32",
        ),
        np.array(
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 0, 1, 1, 1],
                [0, 0, 0, 0, 0, 0, 0, 0],
            ],
            "int32",
        ),
    ),
    "b": (
        np.array([[2, 17, 29, 3, 12], [2, 9, 3, 0, 0]], "int32"),
        np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], "int32"),
    ),
}


def folder(name):
    return os.path.join(FOLDER, name)


def torch_inputs(batch):
    import torch

    ids, segments = BATCHES[batch]
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "token_type_ids": torch.tensor(segments, dtype=torch.long),
        "attention_mask": torch.tensor(ids != 0, dtype=torch.long),
    }


def record(models):
    """`{name: array}`: every model's outputs on every batch (`models` as
    `load_models` gives them)."""
    import torch

    reference = {}
    for batch, (ids, segments) in BATCHES.items():
        reference[f"{batch}_ids"], reference[f"{batch}_segments"] = ids, segments
        inputs = torch_inputs(batch)
        with torch.no_grad():
            outputs = models["discriminator"](**inputs, output_hidden_states=True)
            reference[f"{batch}_sequence"] = outputs.hidden_states[-1].numpy()
            reference[f"{batch}_rtd_logits"] = outputs.logits.numpy()
            outputs = models["generator"](**inputs, output_hidden_states=True)
            reference[f"{batch}_generator_sequence"] = outputs.hidden_states[-1].numpy()
            reference[f"{batch}_mlm_logits"] = outputs.logits.numpy()
            reference[f"{batch}_class_logits"] = models["classifier"](**inputs).logits.numpy()
            reference[f"{batch}_token_logits"] = models["token_classifier"](**inputs).logits.numpy()
            outputs = models["question_answerer"](**inputs)
            reference[f"{batch}_start_logits"] = outputs.start_logits.numpy()
            reference[f"{batch}_end_logits"] = outputs.end_logits.numpy()
    return reference


def load_models():
    """The fixtures' transformers models (eager attention, eval mode)."""
    import transformers

    classes = {
        "discriminator": "ElectraForPreTraining",
        "generator": "ElectraForMaskedLM",
        **{name: model_class for name, model_class, _ in TASKS},
    }
    return {
        name: getattr(transformers, model_class)
        .from_pretrained(folder(name), attn_implementation="eager")
        .eval()
        for name, model_class in classes.items()
    }


def perturb(model):
    """Move the LayerNorms' weights and every bias off their initial ones and
    zeros, so that they count in the outputs."""
    import torch

    for name, parameter in model.named_parameters():
        if "LayerNorm" in name or name.endswith(".bias"):
            parameter.add_(0.1 * torch.randn_like(parameter))


def make_hf():
    import torch
    import transformers

    torch.manual_seed(21)
    # Random weights larger than the 0.02 default, so that every part of
    # the model moves the outputs.
    discriminator = transformers.ElectraForPreTraining(
        transformers.ElectraConfig(**DISCRIMINATOR_CONFIG, initializer_range=0.3)
    ).eval()
    generator = transformers.ElectraForMaskedLM(
        transformers.ElectraConfig(**GENERATOR_CONFIG, initializer_range=0.3)
    ).eval()
    with torch.no_grad():
        for module in (discriminator, generator):
            perturb(module)
        shared = discriminator.electra.embeddings.state_dict()
        generator.electra.embeddings.load_state_dict(shared)
        generator.tie_weights()
    discriminator.save_pretrained(folder("discriminator"))
    generator.save_pretrained(folder("generator"))
    for name, model_class, extra in TASKS:
        config = transformers.ElectraConfig(**DISCRIMINATOR_CONFIG, **extra, initializer_range=0.3)
        model = getattr(transformers, model_class)(config).eval()
        with torch.no_grad():
            perturb(model)
        model.electra.load_state_dict(discriminator.electra.state_dict())
        model.save_pretrained(folder(name))
    np.savez(REFERENCE, **record(load_models()))
    print(f"Wrote {FOLDER}: {sorted(os.listdir(FOLDER))}")


def hf_to_google(name, network):
    """Google's name (and whether to transpose) of an HF tensor of the
    `network` ("discriminator" or "generator"), by Google's ELECTRA code:
    the discriminator's body under `electra/`, the generator's under
    `generator/` but for the shared embedding tables (`electra/embeddings/`),
    TF1 layer names (`kernel`, `gamma`, `beta`, `layer_N`, and `dense_1` for
    the discriminator's second dense layer)."""
    if name == "generator_lm_head.bias":
        return "generator_predictions/output_bias", False
    body = name.startswith("electra.")
    name = name[len("electra.") :] if body else name
    name = re.sub(r"layer\.(\d+)", r"layer_\1", name)
    name = name.replace("dense_prediction", "dense_1")
    parts = name.split(".")
    transpose = False
    if parts[-2] == "LayerNorm":
        parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
    elif parts[-2].endswith("_embeddings"):
        parts = parts[:-1]
    elif parts[-1] == "weight":
        parts[-1], transpose = "kernel", True
    if body:
        scope = "generator" if network == "generator" and parts[0] != "embeddings" else "electra"
        parts = [scope] + parts
    return "/".join(parts), transpose


def make_google():
    import tensorflow as tf
    from safetensors.numpy import load_file

    os.makedirs(GOOGLE_FOLDER, exist_ok=True)
    variables = {}
    for network in ("discriminator", "generator"):
        tensors = load_file(os.path.join(folder(network), "model.safetensors"))
        for name, value in tensors.items():
            if name == "generator_lm_head.weight":
                continue  # the word table, tied
            google, transpose = hf_to_google(name, network)
            value = value.T if transpose else value
            if google in variables:  # the shared embeddings: the same values
                np.testing.assert_array_equal(variables[google], value)
            variables[google] = value
    graph = tf.Graph()
    with graph.as_default():
        for google, value in sorted(variables.items()):
            tf.compat.v1.get_variable(google, initializer=value)
            for slot in ("adam_m", "adam_v"):
                tf.compat.v1.get_variable(f"{google}/{slot}", initializer=np.zeros_like(value))
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(GOOGLE_FOLDER, "model.ckpt"), write_meta_graph=False)
    os.remove(os.path.join(GOOGLE_FOLDER, "checkpoint"))
    with open(os.path.join(folder("discriminator"), "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    with open(os.path.join(GOOGLE_FOLDER, "config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)
    print(f"Wrote {GOOGLE_FOLDER}: {sorted(os.listdir(GOOGLE_FOLDER))}")


def check_with_bert4keras():
    from bert4keras.models import build_transformer_model

    reference = np.load(REFERENCE)
    config = os.path.join(GOOGLE_FOLDER, "config.json")
    checkpoint = os.path.join(GOOGLE_FOLDER, "model.ckpt")
    worst = {}
    # bert4keras's ELECTRA: the encoder, or with its discriminator head (linear: logits).
    for head, name in ((False, "sequence"), ("linear", "rtd_logits")):
        model = build_transformer_model(
            config, checkpoint, model="electra", with_discriminator=head
        )
        for batch in BATCHES:
            ids, segments = reference[f"{batch}_ids"], reference[f"{batch}_segments"]
            outputs = model.predict([ids, segments], verbose=0)
            outputs = outputs[..., 0] if head else outputs
            real = ids != 0  # bert4keras takes id 0 as padding
            difference = np.abs(outputs[real] - reference[f"{batch}_{name}"][real]).max()
            worst[name] = max(worst.get(name, 0.0), float(difference))
    print(f"bert4keras on {GOOGLE_FOLDER} against transformers' outputs: {worst}")
    if max(worst.values()) > 5e-6:  # tests/tolerances.py's RECORDED_TINY_ATOL
        raise SystemExit("bert4keras reads the Google-format checkpoint differently.")


if __name__ == "__main__":
    mode = sys.argv[1:]
    if mode == ["google"]:
        make_google()
    elif mode == ["bert4keras"]:
        check_with_bert4keras()
    else:
        make_hf()
