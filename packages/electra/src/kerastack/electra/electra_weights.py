"""ELECTRA's weight tables: for each weight of an `ElectraBackbone` the HF
tensor it comes from and its layout (the kit's readers use it for every
format), and the renaming of Google's original TensorFlow names to HF's."""

import re

from kerastack.models import SAME, TRANSPOSE, block_weight_table

# Tensors an HF ELECTRA checkpoint may hold beside the encoder: buffers, and
# the heads of the task models (a backbone leaves them out).
HF_IGNORED_PREFIXES = (
    "discriminator_predictions.",
    "generator_predictions.",
    "generator_lm_head.",
    "classifier.",
    "qa_outputs.",
    "embeddings.position_ids",
    "embeddings.token_type_ids",
)

# HF ELECTRA's names of one encoder block's sublayers (BERT's), after
# "encoder.layer.N.".
BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}


def backbone_weight_table(backbone):
    """`[(variable, hf_name, layout)]` for every weight of an
    `ElectraBackbone`, in HF `ElectraModel`'s names.

    Example:

    >>> from kerastack.electra import ElectraBackbone
    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> table = backbone_weight_table(backbone)
    >>> len(table) == len(backbone.weights)
    True
    >>> [name for _, name, _ in table[5:7]]
    ['embeddings_project.weight', 'embeddings_project.bias']
    """
    table = [
        (backbone.get_layer(ours).embeddings, f"embeddings.{theirs}.weight", SAME)
        for ours, theirs in (
            ("token_embedding", "word_embeddings"),
            ("position_embedding", "position_embeddings"),
            ("segment_embedding", "token_type_embeddings"),
        )
    ]
    norm = backbone.get_layer("embeddings_layer_norm")
    table += [
        (norm.gamma, "embeddings.LayerNorm.weight", SAME),
        (norm.beta, "embeddings.LayerNorm.bias", SAME),
    ]
    if backbone.embedding_dim != backbone.hidden_dim:
        projection = backbone.get_layer("embeddings_projection")
        table += [
            (projection.kernel, "embeddings_project.weight", TRANSPOSE),
            (projection.bias, "embeddings_project.bias", SAME),
        ]
    for index in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{index}")
        table += block_weight_table(
            block, backbone.num_heads, f"encoder.layer.{index}.", BLOCK_NAMES
        )
    return table


# Training state saved beside the weights, never part of a model.
TRAINING_STATE = re.compile(r"(^|/)(global_step|adam_m|adam_v|beta1_power|beta2_power)$")
_EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def _rename(parts):
    """HF's dotted name (and whether to transpose) of Google's name parts."""
    renamed, transpose = [], False
    for part in parts:
        if part.startswith("layer_") and part[len("layer_") :].isdigit():
            renamed += ["layer", part[len("layer_") :]]
        elif part == "kernel":
            renamed.append("weight")
            transpose = True
        elif part == "gamma":
            renamed.append("weight")
        elif part == "beta":
            renamed.append("bias")
        elif part == "dense_1":  # the discriminator's second dense layer
            renamed.append("dense_prediction")
        else:
            renamed.append(part)
    if parts[-1] in _EMBEDDINGS:
        renamed.append("weight")
    return ".".join(renamed), transpose


def google_to_hf_name(name, generator=False, untied_generator_embeddings=False):
    """`(hf_name, transpose)` for a tensor of Google's ELECTRA checkpoint, or
    None for one the model (discriminator or, with `generator=True`,
    generator) does not use.

    Google's pretraining checkpoints hold both networks: the discriminator
    under `electra/` with its head `discriminator_predictions/` (`dense`,
    `dense_1`), the generator under `generator/` with its head
    `generator_predictions/` (`dense`, `LayerNorm`, `output_bias`; the
    output layer is the word table). The generator shares the
    discriminator's embedding tables (`electra/embeddings/`) unless it was
    trained with its own (`generator/embeddings/`:
    `untied_generator_embeddings=True`).

    Example:

    >>> google_to_hf_name("electra/encoder/layer_1/attention/self/query/kernel")
    ('electra.encoder.layer.1.attention.self.query.weight', True)
    >>> google_to_hf_name("discriminator_predictions/dense_1/bias")
    ('discriminator_predictions.dense_prediction.bias', False)
    >>> google_to_hf_name("generator/embeddings_project/kernel") is None
    True
    >>> google_to_hf_name("generator/embeddings_project/kernel", generator=True)
    ('electra.embeddings_project.weight', True)
    >>> google_to_hf_name("electra/embeddings/word_embeddings", generator=True)
    ('electra.embeddings.word_embeddings.weight', False)
    >>> google_to_hf_name("generator_predictions/output_bias", generator=True)
    ('generator_lm_head.bias', False)
    """
    parts = name.split("/")
    head, rest = parts[0], parts[1:]
    if not rest:
        return None
    if not generator:
        if head == "electra":
            hf_name, transpose = _rename(rest)
            return "electra." + hf_name, transpose
        if head == "discriminator_predictions":
            hf_name, transpose = _rename(rest)
            return "discriminator_predictions." + hf_name, transpose
        return None
    shared_embeddings = head == "electra" and rest[0] == "embeddings"
    if head == "generator" or (shared_embeddings and not untied_generator_embeddings):
        hf_name, transpose = _rename(rest)
        return "electra." + hf_name, transpose
    if head == "generator_predictions":
        if rest == ["output_bias"]:
            return "generator_lm_head.bias", False
        hf_name, transpose = _rename(rest)
        return "generator_predictions." + hf_name, transpose
    return None
