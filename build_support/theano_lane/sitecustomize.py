"""What Keras 2.3.1 needs from Python 3.11 and h5py 3, for the theano lane only.

tox puts this folder on PYTHONPATH in the theano lane, so Python imports it at
start-up. It never ships in a package.

- Keras 2.3.1 imports `Iterable`, `Mapping`, ... from `collections`; Python 3.10
  removed them from there (they live in `collections.abc`).
- Keras 2.3.1 wrote its HDF5 code against h5py 2, which returns string
  attributes as bytes; h5py 3 returns `str`, and h5py 2 has no wheel for
  Python 3.11. Reading attributes hands bytes back, as h5py 2 did.
"""

import collections
import collections.abc

for _name in ("Callable", "Iterable", "Mapping", "MutableMapping", "Sequence"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))


def _bytes_attributes():
    try:
        import numpy as np
        from h5py._hl import attrs
    except ImportError:
        return
    read = attrs.AttributeManager.__getitem__

    def as_bytes(value):
        if isinstance(value, str):
            return value.encode("utf8")
        if isinstance(value, np.ndarray) and value.dtype == object:
            return np.array([as_bytes(item) for item in value.tolist()])
        return value

    def __getitem__(self, name):
        return as_bytes(read(self, name))

    attrs.AttributeManager.__getitem__ = __getitem__


_bytes_attributes()
