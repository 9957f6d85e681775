"""Write the XLM-RoBERTa, CamemBERT and RoBERTa/ALBERT task-head
references the conformance tests compare against.

Run from the repository root in the torch lane's environment (HF
transformers, PyTorch, `sentencepiece`):

    python -m tests.conformance.make_xlmr_references

It writes into tests/conformance/fixtures/:

- `tiny_xlmr/`, `tiny_camembert/`: a unigram SentencePiece model
  (`sentencepiece.bpe.model`, fairseq's layout: `<unk>`, `<s>`, `</s>`
  first) trained by `sentencepiece` on `TRAINING_TEXTS`, and a small
  `XLMRobertaModel` / `CamembertModel` with random weights (odd sizes),
  saved by transformers;
- `tiny_xlmr_reference.npz`, `tiny_camembert_reference.npz`: the ids
  transformers' `XLMRobertaTokenizer` / `CamembertTokenizer` give for
  `TEXTS` (the references' texts and the multilingual sample; single
  texts, and `PAIRS`), and the models' outputs on the padded batches of
  `OUTPUT_TEXTS` and the pairs (eager attention, float32);
- `tiny_roberta_heads/<task>/`, `tiny_albert_heads/<task>/`: tiny random
  HF task models (`RobertaForSequenceClassification`, ...,
  `XLMRobertaForSequenceClassification`, `CamembertForMaskedLM`,
  `AlbertForMaskedLM`, ...), every layer norm and bias moved off its
  initial value, and in each folder's `reference.npz` the ids of a padded
  batch and each model's outputs on it.

The tests check kerastack against these on every lane and, where
transformers is installed, that they are still what transformers gives.
"""

import os

import numpy as np

from tests.conformance import make_family_references as family
from tests.conformance.corpus import MULTILINGUAL

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
XLMR_FOLDER = os.path.join(FIXTURES, "tiny_xlmr")
CAMEMBERT_FOLDER = os.path.join(FIXTURES, "tiny_camembert")
XLMR_REFERENCE = os.path.join(FIXTURES, "tiny_xlmr_reference.npz")
CAMEMBERT_REFERENCE = os.path.join(FIXTURES, "tiny_camembert_reference.npz")
ROBERTA_HEADS = os.path.join(FIXTURES, "tiny_roberta_heads")
ALBERT_HEADS = os.path.join(FIXTURES, "tiny_albert_heads")

TRAINING_TEXTS = family.TRAINING_TEXTS
OUTPUT_TEXTS = family.TEXTS
TEXTS = family.TEXTS + MULTILINGUAL + ["<s> x </s> <pad> <unk> <mask>", "a<mask>b"]
PAIRS = family.PAIRS

# Odd sizes: width 20 in 2 heads of 10, 3 layers.
ENCODER_CONFIG = {
    "hidden_size": 20,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "intermediate_size": 36,
    "max_position_embeddings": 160,
    "type_vocab_size": 1,
    "pad_token_id": 1,
    "layer_norm_eps": 1e-5,
    "hidden_act": "gelu",
}
# The task models: width 12 in 3 heads of 4, a vocabulary of 41; weights
# drawn wider than HF's 0.02, so that the logits (not only the heads'
# biases) depend on every weight well beyond the tolerance.
HEAD_VOCABULARY = 41
HEAD_INITIALIZER_RANGE = 0.3
ROBERTA_HEAD_CONFIG = dict(
    ENCODER_CONFIG,
    hidden_size=12,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=20,
    max_position_embeddings=24,
    vocab_size=HEAD_VOCABULARY,
    initializer_range=HEAD_INITIALIZER_RANGE,
)
ALBERT_HEAD_CONFIG = {
    "vocab_size": HEAD_VOCABULARY,
    "embedding_size": 6,
    "hidden_size": 12,
    "num_hidden_layers": 3,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "max_position_embeddings": 24,
    "hidden_act": "gelu_new",
    "pad_token_id": 0,
    "initializer_range": HEAD_INITIALIZER_RANGE,
}
NUM_CLASSES = 3
# (folder, transformers class, config class, task): the task models written.
ROBERTA_TASKS = (
    ("classification", "RobertaForSequenceClassification", "RobertaConfig"),
    ("token_classification", "RobertaForTokenClassification", "RobertaConfig"),
    ("question_answering", "RobertaForQuestionAnswering", "RobertaConfig"),
    ("masked_lm", "RobertaForMaskedLM", "RobertaConfig"),
    ("xlmr_classification", "XLMRobertaForSequenceClassification", "XLMRobertaConfig"),
    ("camembert_masked_lm", "CamembertForMaskedLM", "CamembertConfig"),
)
ALBERT_TASKS = (
    ("classification", "AlbertForSequenceClassification", "AlbertConfig"),
    ("token_classification", "AlbertForTokenClassification", "AlbertConfig"),
    ("question_answering", "AlbertForQuestionAnswering", "AlbertConfig"),
    ("masked_lm", "AlbertForMaskedLM", "AlbertConfig"),
)


def train_sentencepiece(prefix, vocabulary_size, normalization="identity"):
    """A unigram SentencePiece model `prefix + ".model"` in fairseq's
    layout (`<unk>` 0, `<s>` 1, `</s>` 2, no `<pad>`), as XLM-R's and
    CamemBERT's `sentencepiece.bpe.model`."""
    import sentencepiece

    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXTS),
        model_prefix=prefix,
        vocab_size=vocabulary_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
        # No normalization table: it would be 200 KB of the file. The
        # conformance tests train a model with XLM-R's (nmt_nfkc) live.
        normalization_rule_name=normalization,
    )
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def tokenizer(folder):
    """transformers' tokenizer of the fixture `folder`."""
    import transformers

    name = "CamembertTokenizer" if "camembert" in folder else "XLMRobertaTokenizer"
    return getattr(transformers, name).from_pretrained(folder)


def reference_ids(hf_tokenizer):
    """Ids of TEXTS and of PAIRS (each a padded batch), with their masks,
    and the padded batch of OUTPUT_TEXTS."""
    result = {}
    for key, (firsts, seconds) in {
        "": (TEXTS, None),
        "pair_": ([a for a, _ in PAIRS], [b for _, b in PAIRS]),
        "output_": (OUTPUT_TEXTS, None),
    }.items():
        encoded = hf_tokenizer(firsts, seconds, padding=True, return_tensors="np")
        result[key + "ids"] = encoded["input_ids"].astype("int32")
        result[key + "mask"] = encoded["attention_mask"].astype("int32")
    return result


def encoder_outputs(model, ids, mask):
    """`(sequence, pooled)` of an HF encoder."""
    import torch

    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(ids, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
        )
    return outputs.last_hidden_state.numpy(), outputs.pooler_output.numpy()


def perturb(model, seed):
    """Every layer norm and bias away from its initial value (ones, zeros),
    so that a swapped, missing or untransposed one shows."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name.lower() or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def make_encoder(folder, reference, model_class, config_class, vocabulary_size, seed):
    import torch
    import transformers

    os.makedirs(folder, exist_ok=True)
    train_sentencepiece(os.path.join(folder, "sentencepiece.bpe"), vocabulary_size)
    hf_tokenizer = tokenizer(folder)
    ids = reference_ids(hf_tokenizer)
    torch.manual_seed(seed)
    config = getattr(transformers, config_class)(
        vocab_size=len(hf_tokenizer),
        bos_token_id=hf_tokenizer.bos_token_id,
        eos_token_id=hf_tokenizer.eos_token_id,
        **ENCODER_CONFIG,
    )
    model = getattr(transformers, model_class)(config, add_pooling_layer=True).eval()
    perturb(model, seed + 1)
    model.save_pretrained(folder)
    sequence, pooled = encoder_outputs(model, ids["output_ids"], ids["output_mask"])
    pair_sequence, pair_pooled = encoder_outputs(model, ids["pair_ids"], ids["pair_mask"])
    np.savez(
        reference,
        sequence=sequence,
        pooled=pooled,
        pair_sequence=pair_sequence,
        pair_pooled=pair_pooled,
        **ids,
    )


def head_inputs(albert):
    """A padded batch of 3 rows for the task models: `(ids, mask,
    segments)`; RoBERTa's `<s>` 0, `<pad>` 1, `</s>` 2, ALBERT's `<pad>` 0,
    `[CLS]` 2, `[SEP]` 3."""
    rng = np.random.default_rng(5)
    lengths, width = (9, 6, 4), 9
    pad, start, end = (0, 2, 3) if albert else (1, 0, 2)
    ids = np.full((3, width), pad, "int32")
    segments = np.zeros((3, width), "int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(4, HEAD_VOCABULARY, length)
        ids[row, 0], ids[row, length - 1] = start, end
        if albert:
            segments[row, length // 2 : length] = 1
    mask = (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype("int32")
    return ids, mask, segments


def head_outputs(model, ids, mask, segments=None):
    """`{name: array}` of an HF task model's outputs."""
    import torch

    kwargs = {}
    if segments is not None:
        kwargs["token_type_ids"] = torch.tensor(segments, dtype=torch.long)
    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(ids, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
            **kwargs,
        )
    if hasattr(outputs, "start_logits"):
        return {
            "start_logits": outputs.start_logits.numpy(),
            "end_logits": outputs.end_logits.numpy(),
        }
    return {"logits": outputs.logits.numpy()}


def make_heads(folder, tasks, config_arguments, albert, seed):
    import torch
    import transformers

    ids, mask, segments = head_inputs(albert)
    arrays = {"ids": ids, "mask": mask, "segments": segments}
    for index, (task, model_class, config_class) in enumerate(tasks):
        torch.manual_seed(seed + index)
        labels = 2 if task == "question_answering" else NUM_CLASSES
        config = getattr(transformers, config_class)(num_labels=labels, **config_arguments)
        model = getattr(transformers, model_class)(config).eval()
        perturb(model, seed + 100 + index)
        model.save_pretrained(os.path.join(folder, task))
        outputs = head_outputs(model, ids, mask, segments if albert else None)
        arrays.update({f"{task}.{name}": value for name, value in outputs.items()})
    np.savez(os.path.join(folder, "reference.npz"), **arrays)


def main():
    make_encoder(XLMR_FOLDER, XLMR_REFERENCE, "XLMRobertaModel", "XLMRobertaConfig", 200, 21)
    make_encoder(
        CAMEMBERT_FOLDER, CAMEMBERT_REFERENCE, "CamembertModel", "CamembertConfig", 180, 22
    )
    make_heads(ROBERTA_HEADS, ROBERTA_TASKS, ROBERTA_HEAD_CONFIG, albert=False, seed=30)
    make_heads(ALBERT_HEADS, ALBERT_TASKS, ALBERT_HEAD_CONFIG, albert=True, seed=40)
    print(f"Wrote {XLMR_FOLDER}, {CAMEMBERT_FOLDER}, {ROBERTA_HEADS}, {ALBERT_HEADS}.")


if __name__ == "__main__":
    main()
