"""Kubernetes resource quantities ("100m", "1.5", "4Gi", "1e3") as exact numbers.

The grammar is the one of k8s.io/apimachinery resource.Quantity: an optional sign, a
decimal number, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal SI suffix (n u m k M
G T P E) or a decimal exponent (e3, E-2). Values are kept as `Fraction`, so "0.1" plus
"0.2" is exactly "0.3" and rounding happens once, the way the scheduler rounds:
`cpu_millis` and `memory_bytes` round up, like Quantity.MilliValue and Quantity.Value.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["InvalidQuantity", "cpu_millis", "memory_bytes", "parse_quantity"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)


class InvalidQuantity(ValueError):
    """A string is not a Kubernetes quantity."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"quantities must match the regular expression of resource.Quantity: {text!r}"
        )
        self.text = text


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a quantity into an exact number in base units (cores, bytes, pods).

    Integers and floats, as YAML may produce for "4" or "0.5", are accepted as plain
    numbers. Raises InvalidQuantity if the text does not follow the grammar.
    """
    if isinstance(value, bool):
        raise InvalidQuantity(str(value))
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))

    text = value.strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise InvalidQuantity(value)
    number = Fraction(match["number"])
    if match["binary"]:
        return number * _BINARY[match["binary"]]
    if match["exponent"] is not None:
        return number * Fraction(10) ** int(match["exponent"])
    return number * _DECIMAL[match["decimal"] or ""]


def cpu_millis(value: str | int | float) -> int:
    """Return a CPU quantity in millicores, rounded up ("100m" -> 100, "0.0001" -> 1)."""
    return math.ceil(parse_quantity(value) * 1000)


def memory_bytes(value: str | int | float) -> int:
    """Return a memory (or any integer) quantity in base units, rounded up."""
    return math.ceil(parse_quantity(value))
