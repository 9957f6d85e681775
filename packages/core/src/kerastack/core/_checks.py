"""Checks of layer and function arguments shared by every kerastack package.

Each raises ``ValueError`` naming the argument and the value received, and
returns the value as a plain Python number, so that a NumPy scalar
(``np.int64(2)``) is stored as an ``int`` and ``get_config`` stays
JSON-serializable.
"""

import math
import numbers


def check_int(argument, value, minimum=1, allow_none=False):
    """``value`` as a Python ``int`` of at least ``minimum``.

    Python and NumPy integers are accepted; bools, floats (even ``2.0``) and
    strings are not.

    Example:

    >>> check_int("num_heads", np.int64(4))
    4
    >>> check_int("num_layers", 0, minimum=0)
    0
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        if allow_none:
            expected += " or None"
        raise ValueError(f"`{argument}` must be {expected}, received {argument}={value!r}.")
    return int(value)


def check_float(
    argument,
    value,
    *,
    minimum=None,
    maximum=None,
    exclusive_minimum=False,
    exclusive_maximum=False,
    allow_none=False,
):
    """``value`` as a finite Python ``float`` within the given bounds.

    Python and NumPy numbers are accepted; bools, strings, NaN and infinities
    are not.

    Example:

    >>> check_float("dropout", 0.1, minimum=0.0, maximum=1.0, exclusive_maximum=True)
    0.1
    """
    if value is None and allow_none:
        return None
    valid = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if valid and minimum is not None:
        valid = value > minimum if exclusive_minimum else value >= minimum
    if valid and maximum is not None:
        valid = value < maximum if exclusive_maximum else value <= maximum
    if not valid:
        expected = _describe(minimum, maximum, exclusive_minimum, exclusive_maximum)
        if allow_none:
            expected += " or None"
        raise ValueError(f"`{argument}` must be {expected}, received {argument}={value!r}.")
    return float(value)


def _describe(minimum, maximum, exclusive_minimum, exclusive_maximum):
    if minimum is not None and maximum is not None:
        left = "(" if exclusive_minimum else "["
        right = ")" if exclusive_maximum else "]"
        return f"a finite number in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        if minimum == 0 and exclusive_minimum:
            return "a finite number > 0"
        return f"a finite number {'>' if exclusive_minimum else '>='} {minimum}"
    if maximum is not None:
        return f"a finite number {'<' if exclusive_maximum else '<='} {maximum}"
    return "a finite number"
