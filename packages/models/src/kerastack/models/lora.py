"""LoRA on a backbone, with keras-hub's names: `enable_lora(rank)` adds
low-rank adapters to chosen projections (query and value by default) and
freezes everything else; `save_lora_weights(path)` and
`load_lora_weights(path)` move only the adapters, in a safetensors file.

The adapters are Keras's own (`Dense`, `EinsumDense` and `Embedding` each
have `enable_lora`); this module picks the layers, freezes the rest and
names each adapter weight by its layer's path inside the backbone."""

import json
import os
from numbers import Real

import numpy as np

from kerastack.core import keras, require_keras3

__all__ = ["LoraMixin"]

# Written into every adapter file's metadata; a file without it is not one.
_FORMAT = "kerastack.lora"


def _named_layers(model):
    """`[(path, layer)]` for every layer inside `model`, each once (a shared
    layer under its first path), the path being the layer names from the
    model down, joined by "/", so it is the same for every instance of the
    same architecture whatever name scopes they were made in."""
    found = []
    seen = {id(model)}

    def visit(layer, prefix):
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = prefix + child.name
            found.append((path, child))
            visit(child, path + "/")

    visit(model, "")
    return found


def _lora_variables(layer):
    """The adapter variables of a layer with LoRA enabled, by name."""
    return {v.name: v for v in layer.weights if v.name.startswith("lora_")}


def _expected_shapes(layer, rank):
    """`{variable name: shape}` of the adapters `layer.enable_lora(rank)`
    would add: Keras's A is the weight's shape with its last axis replaced
    by `rank`, B is `(rank, last axis)`."""
    if isinstance(layer, keras.layers.Embedding):
        names, shape = ("lora_embeddings_a", "lora_embeddings_b"), tuple(layer.embeddings.shape)
    else:
        names, shape = ("lora_kernel_a", "lora_kernel_b"), tuple(layer.kernel.shape)
    return {names[0]: shape[:-1] + (rank,), names[1]: (rank, shape[-1])}


def _check_rank(rank):
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"rank must be a positive int, got {rank!r}.")
    return int(rank)


def _check_alpha(lora_alpha):
    if lora_alpha is None:
        return None
    if isinstance(lora_alpha, bool) or not isinstance(lora_alpha, Real) or not lora_alpha > 0:
        raise ValueError(f"lora_alpha must be a positive number or None, got {lora_alpha!r}.")
    return int(lora_alpha) if isinstance(lora_alpha, (int, np.integer)) else float(lora_alpha)


def _check_path(filepath):
    if not isinstance(filepath, (str, os.PathLike)):
        raise ValueError(f"The LoRA file path must be a str or a path, got {filepath!r}.")
    filepath = os.fspath(filepath)
    if not filepath.endswith(".safetensors"):
        raise ValueError(
            f"A LoRA weights file is a safetensors file whose name ends in '.safetensors' "
            f"(such as 'task.lora.safetensors'), got {filepath!r}."
        )
    return filepath


class LoraMixin:
    """LoRA (low-rank adaptation) for a model, with keras-hub's method names.

    `enable_lora(rank)` freezes every weight of the model and gives each
    target layer (by default every `"query"` and `"value"` projection, as in
    keras-hub) Keras's own adapters: its kernel `W` then computes as
    `W + (lora_alpha / rank) * A @ B`, `A` and `B` small and trainable, `B`
    starting at zero so the outputs do not change until training does.
    `save_lora_weights` and `load_lora_weights` write and read only `A` and
    `B`, with the rank, `lora_alpha` and target names, so a file made for
    another setting or another architecture is refused.

    Every kerastack backbone has these methods (`SavedByArguments` takes
    this class); on a task model, call them on its `backbone`: the heads
    stay trainable. A `.keras` file of a model with LoRA enabled holds the
    kernels with the adapters merged in (Keras's own behavior): the loaded
    model computes the same outputs with no adapters; call `enable_lora`
    again to go on adapting it.

    Paper: Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models"
    (2021), https://arxiv.org/abs/2106.09685.

    Example:

    >>> class Tiny(LoraMixin, keras.Model):
    ...     def __init__(self, **kwargs):
    ...         inputs = keras.Input((4,))
    ...         query = keras.layers.Dense(4, name="query")(inputs)
    ...         outputs = keras.layers.Dense(2, name="value")(query)
    ...         super().__init__(inputs, outputs, **kwargs)
    >>> model = Tiny()
    >>> model.enable_lora(2)
    >>> sorted(v.path.split("/")[-1] for v in model.trainable_weights)
    ['lora_kernel_a', 'lora_kernel_a', 'lora_kernel_b', 'lora_kernel_b']
    """

    def default_lora_layer_names(self):
        """The names of the layers `enable_lora` adapts when it is given
        none: `["query", "value"]`, every attention layer's query and value
        projections, as in keras-hub. A model whose projections are named
        otherwise overrides it.

        Example:

        >>> LoraMixin().default_lora_layer_names()
        ['query', 'value']
        """
        return ["query", "value"]

    def enable_lora(self, rank, target_layer_names=None, lora_alpha=None):
        """Freeze every weight of the model and add trainable LoRA adapters of
        rank `rank` to each layer named in `target_layer_names`.

        Target names match layer names (`layer.name`, not paths), at any
        depth: `"query"` is the query projection of every attention layer.
        Every weight of the model that is not an adapter is frozen, the
        targets' own kernels and biases, embeddings and layer norms included
        (as keras-hub does), so `trainable_weights` lists only the adapters.
        LoRA can be enabled once per model.

        Args:
            rank: int, the adapters' rank (at least 1).
            target_layer_names: the names of the layers to adapt (a list of
                str), each naming at least one `Dense`, `EinsumDense` or
                `Embedding` layer of the model; `None` for
                `default_lora_layer_names()`.
            lora_alpha: the adapters' scale is `lora_alpha / rank`; `None`
                for `rank` (Keras's default, a scale of 1).

        Raises:
            ValueError: when `rank` or `lora_alpha` is not positive, a name
                matches no layer or a layer without LoRA, or LoRA is already
                enabled. Nothing changes then.

        Example:

        >>> class Tiny(LoraMixin, keras.Model):
        ...     def __init__(self, **kwargs):
        ...         inputs = keras.Input((4,))
        ...         query = keras.layers.Dense(4, name="query")(inputs)
        ...         outputs = keras.layers.Dense(2, name="output")(query)
        ...         super().__init__(inputs, outputs, **kwargs)
        >>> model = Tiny()
        >>> model.enable_lora(2, target_layer_names=["query", "output"])
        >>> len(model.trainable_weights), len(model.non_trainable_weights)
        (4, 4)
        >>> Tiny().enable_lora(2, target_layer_names=["key"])
        Traceback (most recent call last):
        ...
        ValueError: target_layer_names ['key'] name no layer of this Tiny; ...
        """
        require_keras3("LoRA", "Keras 3's LoRA layers")
        rank = _check_rank(rank)
        lora_alpha = _check_alpha(lora_alpha)
        names = self._lora_target_names(target_layer_names)
        enabled = self._lora_state()
        if enabled is not None:
            raise ValueError(
                f"LoRA is already enabled on this {type(self).__name__} with rank "
                f"{enabled['rank']} on the layers {enabled['target_layer_names']}; it can be "
                f"enabled once (asked: rank {rank} on {names})."
            )
        targets = self._lora_targets(names)
        # A trainable model, then every weight frozen: the adapters that
        # `enable_lora` adds below are the only trainable weights.
        self.trainable = True
        for variable in self.weights:
            variable.trainable = False
        for _, layer in targets:
            layer.enable_lora(rank, lora_alpha=lora_alpha)

    def save_lora_weights(self, filepath):
        """Write only the LoRA adapters to `filepath`, a safetensors file
        (its name ends in `.safetensors`), with the rank, `lora_alpha` and
        target layer names in its metadata. Each adapter is named by its
        layer's path in the model and its Keras name
        (`"transformer_layer_0/self_attention/query/lora_kernel_a"`).

        Raises:
            ValueError: when LoRA is not enabled, or `filepath` does not end
                in `.safetensors`.

        Example:

        >>> import os, tempfile
        >>> class Tiny(LoraMixin, keras.Model):
        ...     def __init__(self, **kwargs):
        ...         inputs = keras.Input((4,))
        ...         query = keras.layers.Dense(4, name="query")(inputs)
        ...         outputs = keras.layers.Dense(2, name="value")(query)
        ...         super().__init__(inputs, outputs, **kwargs)
        >>> model = Tiny()
        >>> model.enable_lora(2)
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.lora.safetensors")
        >>> model.save_lora_weights(path)
        >>> from safetensors.numpy import load_file
        >>> {name: value.shape for name, value in sorted(load_file(path).items())}
        {'query/lora_kernel_a': (4, 2), 'query/lora_kernel_b': (2, 4),
         'value/lora_kernel_a': (4, 2), 'value/lora_kernel_b': (2, 2)}
        """
        from safetensors.numpy import save_file

        filepath = _check_path(filepath)
        state = self._lora_state()
        if state is None:
            raise ValueError(
                f"LoRA is not enabled on this {type(self).__name__}: call enable_lora(rank) "
                "before save_lora_weights."
            )
        tensors = {
            f"{path}/{name}": np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
            for path, layer in self._lora_enabled_layers()
            for name, variable in _lora_variables(layer).items()
        }
        metadata = {
            "format": _FORMAT,
            "rank": json.dumps(state["rank"]),
            "lora_alpha": json.dumps(state["lora_alpha"]),
            "target_layer_names": json.dumps(state["target_layer_names"]),
        }
        # Written beside the target, then moved over it: a failed write
        # leaves any earlier file whole.
        partial = filepath + ".partial"
        try:
            save_file(tensors, partial, metadata=metadata)
            os.replace(partial, filepath)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def load_lora_weights(self, filepath):
        """Read the LoRA adapters `save_lora_weights` wrote into this model.

        When LoRA is not enabled, it is enabled first with the file's rank,
        `lora_alpha` and target names (freezing the rest, as `enable_lora`
        does). Loading is strict and all or nothing: a file made with
        another rank, `lora_alpha` or targets than the model's LoRA, or for
        a model of other shapes, is an error listing every misfit, and the
        model does not change.

        Raises:
            FileNotFoundError: when `filepath` does not exist.
            ValueError: when the file is not a kerastack LoRA file or does
                not fit this model.

        Example:

        >>> import os, tempfile
        >>> class Tiny(LoraMixin, keras.Model):
        ...     def __init__(self, **kwargs):
        ...         inputs = keras.Input((4,))
        ...         query = keras.layers.Dense(4, name="query")(inputs)
        ...         outputs = keras.layers.Dense(2, name="value")(query)
        ...         super().__init__(inputs, outputs, **kwargs)
        >>> keras.utils.set_random_seed(0)
        >>> model = Tiny()
        >>> model.enable_lora(2)
        >>> _ = model.get_layer("query").lora_kernel_b.assign(np.ones((2, 4)))
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.lora.safetensors")
        >>> model.save_lora_weights(path)
        >>> keras.utils.set_random_seed(0)
        >>> fresh = Tiny()  # the same frozen weights, no LoRA yet
        >>> fresh.load_lora_weights(path)
        >>> data = np.ones((1, 4), "float32")
        >>> bool(np.allclose(fresh.predict(data, verbose=0), model.predict(data, verbose=0)))
        True
        >>> other = Tiny()
        >>> other.enable_lora(3)
        >>> other.load_lora_weights(path)
        Traceback (most recent call last):
        ...
        ValueError: ...tiny.lora.safetensors holds LoRA of rank 2 ..., but this Tiny has rank 3 ...
        """
        filepath = _check_path(filepath)
        if not os.path.isfile(filepath):
            raise FileNotFoundError(f"No LoRA weights file at {filepath!r}.")
        saved, tensors = _read_lora_file(filepath)
        state = self._lora_state()
        if state is not None:
            if state != saved:
                raise ValueError(
                    f"{filepath} holds LoRA of rank {saved['rank']} with lora_alpha "
                    f"{saved['lora_alpha']} on the layers {saved['target_layer_names']}, but "
                    f"this {type(self).__name__} has rank {state['rank']} with lora_alpha "
                    f"{state['lora_alpha']} on {state['target_layer_names']}."
                )
            expected = {
                f"{path}/{name}": tuple(variable.shape)
                for path, layer in self._lora_enabled_layers()
                for name, variable in _lora_variables(layer).items()
            }
        else:
            expected = {
                f"{path}/{name}": shape
                for path, layer in self._lora_targets(saved["target_layer_names"])
                for name, shape in _expected_shapes(layer, saved["rank"]).items()
            }
        self._check_lora_tensors(filepath, tensors, expected)
        if state is None:
            self.enable_lora(saved["rank"], saved["target_layer_names"], saved["lora_alpha"])
        for path, layer in self._lora_enabled_layers():
            for name, variable in _lora_variables(layer).items():
                variable.assign(tensors[f"{path}/{name}"].astype(variable.dtype))

    # Helpers -----------------------------------------------------------------

    def _lora_target_names(self, target_layer_names):
        if target_layer_names is None:
            target_layer_names = self.default_lora_layer_names()
        if isinstance(target_layer_names, str) or not all(
            isinstance(name, str) for name in target_layer_names
        ):
            raise ValueError(
                "target_layer_names must be a list of layer names (str), such as "
                f"['query', 'value'], got {target_layer_names!r}."
            )
        names = sorted(set(target_layer_names))
        if not names:
            raise ValueError("target_layer_names is empty: name at least one layer to adapt.")
        return names

    def _lora_targets(self, names):
        """`[(path, layer)]` of the layers named `names`; every name must
        match, and only layers that have `enable_lora`."""
        layers = _named_layers(self)
        targets = [(path, layer) for path, layer in layers if layer.name in names]
        unmatched = sorted(set(names) - {layer.name for _, layer in targets})
        if unmatched:
            adaptable = sorted({layer.name for _, layer in layers if hasattr(layer, "enable_lora")})
            raise ValueError(
                f"target_layer_names {unmatched} name no layer of this {type(self).__name__}; "
                f"the layers that LoRA can adapt are named {adaptable}."
            )
        unfit = [
            f"{path} ({type(layer).__name__})"
            for path, layer in targets
            if not hasattr(layer, "enable_lora")
        ]
        if unfit:
            raise ValueError(
                f"LoRA adapts Dense, EinsumDense and Embedding layers; these targets are not "
                f"one: {unfit}."
            )
        # Keras's enable_lora refuses these only after our freezing; refuse first.
        for path, layer in targets:
            if not layer.built:
                raise ValueError(f"LoRA needs built layers; {path} is not built yet.")
            if getattr(layer, "kernel_constraint", None) or getattr(
                layer, "embeddings_constraint", None
            ):
                raise ValueError(f"LoRA is incompatible with {path}'s weight constraint.")
        return targets

    def _lora_enabled_layers(self):
        return [
            (path, layer)
            for path, layer in _named_layers(self)
            if getattr(layer, "lora_enabled", False)
        ]

    def _lora_state(self):
        """The model's LoRA setting (`rank`, `lora_alpha`, sorted
        `target_layer_names`), from its layers; `None` when none has LoRA."""
        layers = [layer for _, layer in self._lora_enabled_layers()]
        if not layers:
            return None
        settings = {(layer.lora_rank, layer.lora_alpha) for layer in layers}
        if len(settings) > 1:
            raise ValueError(
                f"The layers of this {type(self).__name__} have LoRA of several ranks or "
                f"alphas {sorted(settings)}: save_lora_weights and load_lora_weights need one."
            )
        ((rank, alpha),) = settings
        return {
            "rank": rank,
            "lora_alpha": alpha,
            "target_layer_names": sorted({layer.name for layer in layers}),
        }

    def _check_lora_tensors(self, filepath, tensors, expected):
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        misshaped = [
            f"{name}: {tuple(tensors[name].shape)} in the file, {expected[name]} in the model"
            for name in sorted(set(expected) & set(tensors))
            if tuple(tensors[name].shape) != tuple(expected[name])
        ]
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected: {', '.join(unexpected)}")
        if misshaped:
            problems.append(f"mis-shaped: {'; '.join(misshaped)}")
        if problems:
            raise ValueError(
                f"{filepath} does not fit this {type(self).__name__}'s LoRA "
                f"({'; '.join(problems)})."
            )


def _read_lora_file(filepath):
    """`(setting, {name: array})` of a file `save_lora_weights` wrote."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(filepath, framework="numpy") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{filepath} is not a readable safetensors file: {error}") from None
    if metadata.get("format") != _FORMAT:
        raise ValueError(
            f"{filepath} is not a LoRA weights file written by save_lora_weights (its "
            f"metadata has no format {_FORMAT!r})."
        )
    try:
        saved = {
            "rank": _check_rank(json.loads(metadata["rank"])),
            "lora_alpha": _check_alpha(json.loads(metadata["lora_alpha"])),
            "target_layer_names": json.loads(metadata["target_layer_names"]),
        }
    except (KeyError, ValueError) as error:
        raise ValueError(f"{filepath} has unreadable LoRA metadata: {error}") from None
    names = saved["target_layer_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{filepath} has unreadable LoRA target names: {names!r}.")
    saved["target_layer_names"] = sorted(set(names))
    return saved, tensors
