"""Google's original ELECTRA TensorFlow checkpoints, read without TensorFlow
(`kerastack.models.read_tf_checkpoint`) into any ELECTRA model: renamed to
HF's names (`google_to_hf_name`), then loaded strictly as HF's files are."""

from kerastack.electra.electra_weights import TRAINING_STATE, google_to_hf_name
from kerastack.models import CheckpointError, checkpoint_prefix, read_tf_checkpoint


def load_google_checkpoint(model, path, allow_longer_position_table=False):
    """Assign the weights of one of Google's original ELECTRA checkpoints to
    `model`, strictly (as HF checkpoints load).

    Google's pretraining checkpoints hold the discriminator (`electra/`,
    `discriminator_predictions/`) and the generator (`generator/`,
    `generator_predictions/`, sharing the discriminator's embeddings unless
    the checkpoint has `generator/embeddings/`): an `ElectraMaskedLM` takes
    the generator, any other model (`ElectraBackbone`,
    `ElectraDiscriminator`, ...) the discriminator. Google shipped no
    `config.json`: build the model from arguments or an HF-style config.

    Args:
        model: an ELECTRA model of the checkpoint's shape.
        path: the checkpoint prefix (`.../model.ckpt`), its `.index` file,
            or the folder holding it.
        allow_longer_position_table: slice a longer position table.

    Returns:
        The names (HF's, or Google's for the other network) of the tensors
        left out; optimizer state is always left out.

    Raises:
        CheckpointError: the files are corrupt or unsupported, or two
            tensors name one weight.
        ValueError: missing, unexpected or mis-shaped weights; the model is
            left unchanged.

    Example:

    >>> import tempfile
    >>> from kerastack.electra import ElectraBackbone
    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_google_checkpoint(backbone, folder)
    Traceback (most recent call last):
    ...
    FileNotFoundError: Expected one checkpoint (*.index) in ..., found none.
    """
    prefix = checkpoint_prefix(path)
    generator = getattr(model, "google_network", "discriminator") == "generator"
    raw = read_tf_checkpoint(prefix)
    untied = generator and any(name.startswith("generator/embeddings/") for name in raw)
    tensors, sources, left_out = {}, {}, []
    for name, value in raw.items():
        if TRAINING_STATE.search(name):
            continue
        renamed = google_to_hf_name(name, generator, untied)
        if renamed is None:
            left_out.append(name)
            continue
        hf_name, transpose = renamed
        if hf_name in sources:
            raise CheckpointError(
                f"{prefix} holds both {sources[hf_name]!r} and {name!r}, which are the same "
                f"weight ({hf_name!r}); remove one"
            )
        sources[hf_name] = name
        tensors[hf_name] = value.T if transpose else value
    ignored = model._assign(tensors, prefix, allow_longer_position_table)
    return sorted(ignored + left_out)
