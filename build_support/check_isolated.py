"""Proof that each kerastack package installs and works on its own.

Builds every package's wheel, then for each package makes a fresh virtual
environment, installs that one wheel (pip resolves its declared dependencies:
kerastack siblings from the freshly built wheels, the rest from the index),
checks that exactly the declared kerastack packages (with exact pins) and no
backend came with it, then adds the backend a user would choose (JAX, the
lightest; no kerastack package declares a backend), imports the package and
runs a forward pass.
It also checks that sibling pins are exact and that nothing undeclared got in.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = (ROOT / "VERSION").read_text().strip()
JAX = "jax[cpu]==0.10.2"

# Package -> (kerastack siblings it must pull in, smoke code run after install).
PACKAGES = {
    "core": (
        [],
        "from kerastack.core import keras, ops, serializable\nassert ops is keras.ops\n",
    ),
    "attention": (
        ["core"],
        "import numpy as np\n"
        "from kerastack.attention import SelfAttention, WeightedAttention\n"
        "x = np.random.rand(2, 5, 4).astype('float32')\n"
        "assert SelfAttention()(x).shape == (2, 5, 4)\n"
        "assert WeightedAttention()(x).shape == (2, 4)\n",
    ),
    "multihead": (
        ["core", "attention"],
        "import numpy as np\n"
        "from kerastack.multihead import MultiHeadAttention\n"
        "x = np.random.rand(2, 5, 8).astype('float32')\n"
        "assert MultiHeadAttention(num_heads=2, key_dim=4)(x, x).shape == (2, 5, 8)\n",
    ),
    "position": (
        ["core"],
        "import numpy as np\n"
        "from kerastack.position import PositionEmbedding, RotaryEmbedding\n"
        "x = np.random.rand(2, 5, 8).astype('float32')\n"
        "assert PositionEmbedding(max_sequence_length=6)(x).shape == (2, 5, 8)\n"
        "assert RotaryEmbedding()(x).shape == (2, 5, 8)\n",
    ),
    "layernorm": (
        ["core"],
        "import numpy as np\n"
        "from kerastack.layernorm import LayerNormalization, RMSNormalization\n"
        "x = np.random.rand(2, 5, 8).astype('float32')\n"
        "assert LayerNormalization()(x).shape == (2, 5, 8)\n"
        "assert RMSNormalization()(x).shape == (2, 5, 8)\n",
    ),
    "transformer": (
        ["core", "attention", "multihead", "position", "layernorm"],
        "import numpy as np\n"
        "from kerastack.transformer import Seq2SeqTransformer, decode\n"
        "m = Seq2SeqTransformer(encoder_vocabulary_size=9, hidden_dim=8, num_heads=2,\n"
        "    intermediate_dim=16, num_encoder_layers=1, num_decoder_layers=1,\n"
        "    max_sequence_length=6)\n"
        "out = decode(m, np.ones((2, 4), 'int32'), start_token_id=1, end_token_id=2,\n"
        "    max_length=5)\n"
        "assert out.shape == (2, 5)\n",
    ),
    "tokenizers": (
        [],
        "import sys\n"
        "from kerastack.tokenizers import BertTokenizer\n"
        "vocab = {t: i for i, t in enumerate(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',\n"
        "    'hello', 'world', '##s'])}\n"
        "t = BertTokenizer(vocab)\n"
        "ids = t.encode('Hello worlds')['token_ids']\n"
        "assert ids.tolist() == [2, 5, 6, 7, 3], ids\n"
        "assert 'keras' not in sys.modules, 'kerastack.tokenizers imported Keras'\n",
    ),
    "models": (
        ["core", "attention", "multihead", "position", "layernorm", "transformer", "tokenizers"],
        "import os, tempfile\n"
        "import numpy as np\n"
        "from kerastack.models import ReversibleEmbedding, read_safetensors, write_checkpoint\n"
        "e = ReversibleEmbedding(10, 4)\n"
        "assert e(e(np.array([[1, 2]])), reverse=True).shape == (1, 2, 10)\n"
        "folder = tempfile.mkdtemp()\n"
        "write_checkpoint(folder, {'w': np.ones((2, 3), 'float32')}, '{}')\n"
        "assert read_safetensors(os.path.join(folder, 'model.safetensors'))['w'].shape == (2, 3)\n",
    ),
    "training": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "import keras\n"
        "from kerastack.training import GradientAccumulation, WarmupLinearDecay\n"
        "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\n"
        "optimizer = GradientAccumulation(keras.optimizers.SGD(WarmupLinearDecay(0.1, 1, 4)), 2)\n"
        "model.compile(optimizer, 'mse')\n"
        "model.fit(np.ones((8, 3)), np.ones((8, 1)), batch_size=2, verbose=0)\n",
    ),
    "bert": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
            "training",
        ],
        "import numpy as np\n"
        "from kerastack.bert import BertBackbone\n"
        "b = BertBackbone(vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8,\n"
        "    intermediate_dim=16, max_sequence_length=8)\n"
        "ids = np.ones((2, 5), 'int32')\n"
        "out = b({'token_ids': ids, 'segment_ids': 0 * ids, 'padding_mask': ids})\n"
        "assert out['sequence_output'].shape == (2, 5, 8)\n",
    ),
    "gpt": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "from kerastack.gpt import GPT2Backbone, GPT2CausalLM\n"
        "m = GPT2CausalLM(GPT2Backbone(vocabulary_size=20, num_layers=1, num_heads=2,\n"
        "    hidden_dim=8, intermediate_dim=16, max_sequence_length=12))\n"
        "prompt = np.array([[3, 4, 5], [0, 6, 7]], 'int32')\n"
        "out = m.generate(prompt, max_new_tokens=4, prompt_padding_mask=prompt > 0)\n"
        "assert out.shape == (2, 4) and out.dtype == np.int32\n"
        "from kerastack.gpt import OpenAIGPTBackbone, OpenAIGPTCausalLM\n"
        "g = OpenAIGPTCausalLM(OpenAIGPTBackbone(vocabulary_size=20, num_layers=1, num_heads=3,\n"
        "    hidden_dim=12, intermediate_dim=48, max_sequence_length=12))\n"
        "assert g.generate(prompt, max_new_tokens=3).shape == (2, 3)\n"
        "from tokenizers import pre_tokenizers\n"
        "from kerastack.gpt import GPT2Tokenizer\n"
        "# a byte-level vocabulary: the 256 byte tokens, one merge, the end token\n"
        "tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + ['ab', '<|endoftext|>']\n"
        "t = GPT2Tokenizer({token: i for i, token in enumerate(tokens)}, [('a', 'b')])\n"
        "m = GPT2CausalLM(GPT2Backbone(vocabulary_size=len(tokens), num_layers=1, num_heads=2,\n"
        "    hidden_dim=8, intermediate_dim=16, max_sequence_length=12))\n"
        "texts = m.generate_text(t, ['ab c', 'a'], max_new_tokens=3)\n"
        "assert len(texts) == 2 and all(isinstance(text, str) for text in texts)\n",
    ),
    "electra": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "from kerastack.electra import ElectraBackbone, ElectraDiscriminator\n"
        "b = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3, hidden_dim=12,\n"
        "    intermediate_dim=20, embedding_dim=10, max_sequence_length=16)\n"
        "ids = np.array([[2, 7, 8, 3, 0]])\n"
        "x = {'token_ids': ids, 'segment_ids': np.zeros_like(ids), 'padding_mask': ids != 0}\n"
        "out = ElectraDiscriminator(b).predict(x, verbose=0)\n"
        "assert out.shape == (1, 5) and np.all(np.isfinite(out))\n",
    ),
    "roformer": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "from kerastack.roformer import RoFormerBackbone, RoFormerV2Backbone\n"
        "for cls in (RoFormerBackbone, RoFormerV2Backbone):\n"
        "    b = cls(vocabulary_size=20, num_layers=1, num_heads=3, hidden_dim=12,\n"
        "        intermediate_dim=16, embedding_dim=8, max_sequence_length=8)\n"
        "    ids = np.ones((2, 5), 'int32')\n"
        "    out = b({'token_ids': ids, 'segment_ids': 0 * ids, 'padding_mask': ids})\n"
        "    assert out['sequence_output'].shape == (2, 5, 12)\n",
    ),
    "nezha": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "from kerastack.nezha import NezhaBackbone\n"
        "m = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3, hidden_dim=12,\n"
        "    intermediate_dim=16, max_relative_position=2)\n"
        "ids = np.array([[2, 7, 8, 9, 3, 0]], 'int32')\n"
        "x = {'token_ids': ids, 'segment_ids': 0 * ids, 'padding_mask': ids != 0}\n"
        "out = m(x)\n"
        "assert tuple(out['sequence_output'].shape) == (1, 6, 12)\n",
    ),
    "t5": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
        ],
        "import numpy as np\n"
        "from kerastack.t5 import T5Backbone, T5Seq2SeqLM\n"
        "backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,\n"
        "    intermediate_dim=24, num_encoder_layers=2, num_decoder_layers=1, num_heads=3,\n"
        "    activation='gelu_approximate', gated=True, tie_embedding_weights=False)\n"
        "model = T5Seq2SeqLM(backbone)\n"
        "ids = np.array([[5, 6, 7, 1]], 'int32')\n"
        "logits = model({'encoder_token_ids': ids, 'encoder_padding_mask': np.ones_like(ids),\n"
        "    'decoder_token_ids': ids[:, :2], 'decoder_padding_mask': np.ones((1, 2), 'int32')})\n"
        "assert tuple(logits.shape) == (1, 2, 40)\n"
        "assert model.generate(ids, max_length=3).shape == (1, 3)\n",
    ),
    "bert4keras": (
        [
            "core",
            "attention",
            "multihead",
            "position",
            "layernorm",
            "transformer",
            "tokenizers",
            "models",
            "training",
            "bert",
        ],
        "import numpy as np\n"
        "from kerastack.bert4keras.models import build_transformer_model\n"
        "from kerastack.bert4keras.snippets import sequence_padding\n"
        "m = build_transformer_model(None, vocab_size=20, hidden_size=8, num_hidden_layers=1,\n"
        "    num_attention_heads=2, intermediate_size=16, hidden_act='gelu', max_position=16,\n"
        "    application='unilm')\n"
        "ids = sequence_padding([[2, 5, 3, 7, 3], [2, 6, 3]])\n"
        "out = m.predict([ids, np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])], verbose=0)\n"
        "assert out.shape == (2, 5, 20)\n",
    ),
}

# Packages that install and run with no Keras and no backend at all.
NO_KERAS = {"tokenizers"}
NO_KERAS_INSTALLED = """
import importlib.metadata as md, sys
for name in ("keras", "tensorflow", "jax", "torch"):
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        continue
    sys.exit(f"{name} is installed with a package that must need no Keras")
"""

CHECK_INSTALLED = """
import importlib.metadata as md, sys
name, version, expected = sys.argv[1], sys.argv[2], set(sys.argv[3].split(",")) - {""}
names = {d.metadata["Name"] for d in md.distributions()}
installed = {n for n in names if n.startswith("kerastack-")}
wanted = {f"kerastack-{n}" for n in expected | {name}}
if installed != wanted:
    sys.exit(f"installed {sorted(installed)}, expected exactly {sorted(wanted)}")
requires = md.requires(f"kerastack-{name}") or []
for sibling in expected:
    pin = f"kerastack-{sibling}=={version}"
    if pin not in requires:
        sys.exit(f"kerastack-{name} requires {requires}, missing exact pin {pin}")
for module in ("tensorflow", "jax", "torch"):
    try:
        md.distribution(module)
    except md.PackageNotFoundError:
        continue
    sys.exit(f"{module} is installed, but no kerastack package declares it")
"""


def run(*command, **kwargs):
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    args = parser.parse_args()
    folders = {path.parent.name for path in (ROOT / "packages").glob("*/pyproject.toml")}
    if folders != set(PACKAGES):
        sys.exit(f"PACKAGES here lists {sorted(PACKAGES)}; packages/ holds {sorted(folders)}")
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        for name in PACKAGES:
            run(
                sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT / "packages" / name
            )
        env = dict(os.environ, KERAS_BACKEND="jax")
        for name in args.packages:
            siblings, smoke = PACKAGES[name]
            venv = Path(tmp) / f"venv-{name}"
            run(sys.executable, "-m", "venv", venv)
            python = venv / "bin" / "python"
            wheel = next(dist.glob(f"kerastack_{name}-{VERSION}-*.whl"))
            run(python, "-m", "pip", "install", "-q", "--find-links", dist, wheel, env=env)
            run(python, "-c", CHECK_INSTALLED, name, VERSION, ",".join(siblings), env=env)
            if name in NO_KERAS:
                run(python, "-c", NO_KERAS_INSTALLED, env=env)
            else:
                run(python, "-m", "pip", "install", "-q", JAX, env=env)  # the user's backend
            run(python, "-c", smoke, env=env)
            print(f"kerastack-{name}: installs alone and works", flush=True)


if __name__ == "__main__":
    main()
