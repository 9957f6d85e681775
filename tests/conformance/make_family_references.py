"""Write the RoBERTa and ALBERT references the conformance tests compare
against.

Run from the repository root in the torch lane's environment (HF
transformers, PyTorch, `tokenizers`, `sentencepiece`):

    python -m tests.conformance.make_family_references

It writes into tests/conformance/fixtures/:

- `tiny_roberta/`: a byte-level BPE vocabulary (`vocab.json`, `merges.txt`)
  trained by `tokenizers` on `TRAINING_TEXTS`, and a small `RobertaModel`
  with random weights of that vocabulary's size, saved by transformers
  (`config.json`, `model.safetensors`);
- `tiny_albert/`: a SentencePiece model (`spiece.model`) trained by
  `sentencepiece` on the same texts with ALBERT's special tokens, and a
  small `AlbertModel` (two groups of two shared blocks, four passes);
- `tiny_roberta_reference.npz`, `tiny_albert_reference.npz`: the ids
  transformers' tokenizers give for `TEXTS` (single texts, and pairs) and
  the models' outputs on them (eager attention, float32).

The tests check kerastack against these on every lane and, where
transformers is installed, that they are still what transformers gives.
"""

import os

import numpy as np

from tests.conformance.corpus import MULTILINGUAL

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ROBERTA_FOLDER = os.path.join(FIXTURES, "tiny_roberta")
ALBERT_FOLDER = os.path.join(FIXTURES, "tiny_albert")
ROBERTA_REFERENCE = os.path.join(FIXTURES, "tiny_roberta_reference.npz")
ALBERT_REFERENCE = os.path.join(FIXTURES, "tiny_albert_reference.npz")

TRAINING_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A stitch in time saves nine, and a penny saved is a penny earned.",
    "Transformers read whole sequences at once; recurrent networks read them in order.",
    "In 2019, RoBERTa trained BERT longer, on more data, without next-sentence prediction.",
    "ALBERT shares one block across all its layers and factorizes the embeddings.",
    "GPT-2 predicts the next token from the tokens before it.",
    "She said, ``don't worry,'' and left at 10:30 with 1,000 dollars.",
    "Numbers like 3,141 and 2,718 or 1,000,000 appear in financial reports.",
    "It's the model's job to learn what's useful; we've only to give it data.",
    "Hello world! Hello again, world? Goodbye, cruel world...",
    "Keras runs the same layer on TensorFlow, JAX and PyTorch.",
    "Attention weighs every token against every other token in the sequence.",
    "Café, naïve, résumé and façade keep their accents in cased models.",
    "Tokenizers split text into pieces: words, subwords, bytes or characters.",
    "   Leading spaces,  double  spaces and trailing spaces   ",
    "UPPER CASE, lower case and Mixed Case Words.",
    "email me at someone@example.com or visit https://example.com/page?id=42",
    "Lists: apples, oranges, pears; numbers: 1, 2, 3, 4, 5.",
] + MULTILINGUAL

TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "She said, ``don't worry,'' and left at 10:30 with 1,000 dollars.",
    "Unseen words: zygote quixotic xylophone 9,876 ÅNGSTRÖM.",
    "Mask me: the [MASK] sat on the mat.",
    "Mask me: the <mask> sat on the mat.",
    "  spaces   around  ",
    "東京 and Москва and café",
    "emoji 🤗 and ©",
]
PAIRS = [
    ("Is it raining?", "No, it is sunny."),
    ("A much longer first sentence with many words in it.", "Short."),
    ("x", "The second text is the longer one here, by far."),
]

ROBERTA_CONFIG = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 130,
    "type_vocab_size": 1,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "layer_norm_eps": 1e-5,
    "hidden_act": "gelu",
}
ALBERT_CONFIG = {
    "embedding_size": 16,
    "hidden_size": 32,
    "num_hidden_layers": 4,
    "num_hidden_groups": 2,
    "inner_group_num": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 130,
    "hidden_act": "gelu_new",
    "pad_token_id": 0,
}


def train_byte_pair_vocabulary(folder, vocabulary_size=400):
    """`vocab.json` and `merges.txt` of a byte-level BPE trained on
    `TRAINING_TEXTS`, RoBERTa's special tokens first."""
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        TRAINING_TEXTS,
        vocab_size=vocabulary_size,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    os.makedirs(folder, exist_ok=True)
    trainer.save_model(folder)


def train_sentencepiece(prefix, vocabulary_size=200):
    """A unigram SentencePiece model `prefix + ".model"` with ALBERT's special
    tokens (`<pad>` 0, `<unk>` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4)."""
    import sentencepiece

    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXTS),
        model_prefix=prefix,
        vocab_size=vocabulary_size,
        model_type="unigram",
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return prefix + ".model"


def reference_ids(tokenizer):
    """Ids of TEXTS (padded batch) and of PAIRS (padded batch), with masks."""
    single = tokenizer(TEXTS, padding=True, return_tensors="np")
    pairs = tokenizer(
        [a for a, _ in PAIRS],
        [b for _, b in PAIRS],
        padding=True,
        return_token_type_ids=True,
        return_tensors="np",
    )
    result = {
        "ids": single["input_ids"],
        "mask": single["attention_mask"],
        "pair_ids": pairs["input_ids"],
        "pair_mask": pairs["attention_mask"],
    }
    if "token_type_ids" in pairs:
        result["pair_segments"] = pairs["token_type_ids"]
    return {name: value.astype("int32") for name, value in result.items()}


def model_outputs(model, ids, mask, segments=None):
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
    return outputs.last_hidden_state.numpy(), outputs.pooler_output.numpy()


def roberta_tokenizer(folder):
    import transformers
    from tokenizers import AddedToken

    # As RoBERTa's released tokenizer: <mask> takes the space before it.
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)
    return transformers.RobertaTokenizer.from_pretrained(folder, mask_token=mask)


def albert_tokenizer(folder):
    import transformers

    return transformers.AlbertTokenizer.from_pretrained(
        folder, do_lower_case=True, keep_accents=False
    )


def make_roberta():
    import torch
    import transformers

    train_byte_pair_vocabulary(ROBERTA_FOLDER)
    tokenizer = roberta_tokenizer(ROBERTA_FOLDER)
    torch.manual_seed(2)
    config = transformers.RobertaConfig(vocab_size=len(tokenizer), **ROBERTA_CONFIG)
    model = transformers.RobertaModel(config, add_pooling_layer=True).eval()
    _perturb_norms(model)
    model.save_pretrained(ROBERTA_FOLDER)
    ids = reference_ids(tokenizer)
    sequence, pooled = model_outputs(model, ids["ids"], ids["mask"])
    pair_sequence, pair_pooled = model_outputs(model, ids["pair_ids"], ids["pair_mask"])
    np.savez(
        ROBERTA_REFERENCE,
        sequence=sequence,
        pooled=pooled,
        pair_sequence=pair_sequence,
        pair_pooled=pair_pooled,
        **ids,
    )


def make_albert():
    import torch
    import transformers

    os.makedirs(ALBERT_FOLDER, exist_ok=True)
    train_sentencepiece(os.path.join(ALBERT_FOLDER, "spiece"))
    os.remove(os.path.join(ALBERT_FOLDER, "spiece.vocab"))
    tokenizer = albert_tokenizer(ALBERT_FOLDER)
    torch.manual_seed(3)
    config = transformers.AlbertConfig(vocab_size=len(tokenizer), **ALBERT_CONFIG)
    model = transformers.AlbertModel(config, add_pooling_layer=True).eval()
    _perturb_norms(model)
    model.save_pretrained(ALBERT_FOLDER)
    ids = reference_ids(tokenizer)
    sequence, pooled = model_outputs(model, ids["ids"], ids["mask"])
    pair_sequence, pair_pooled = model_outputs(
        model, ids["pair_ids"], ids["pair_mask"], ids["pair_segments"]
    )
    np.savez(
        ALBERT_REFERENCE,
        sequence=sequence,
        pooled=pooled,
        pair_sequence=pair_sequence,
        pair_pooled=pair_pooled,
        **ids,
    )


def _perturb_norms(model):
    """Layer norms away from (1, 0), so that a swapped or missing one shows."""
    import torch

    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def main():
    make_roberta()
    make_albert()
    print(f"Wrote {ROBERTA_FOLDER}, {ALBERT_FOLDER} and their references.")


if __name__ == "__main__":
    main()
