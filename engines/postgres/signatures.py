"""The signatures a reader holds from its last poll, sent back to the server on the next one.

The activity and statements queries return only the rows whose signature (a 64-bit hash the server
works out) the collector does not hold. The held signatures go to the server as one array literal
(`$1::text::bigint[]`) built from texts kept per signature: asyncpg encodes an int8[] parameter
element by element in Python (~0.2 µs each), which at a thousand sessions and a few thousand
statements was the largest client cost of a steady poll after the sessions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

Owner = TypeVar("Owner")


class HeldSignatures(Generic[Owner]):
    """signature -> what carries it (a backend's pid, a statement's key), with each signature's
    decimal text kept for `array_literal`."""

    def __init__(self) -> None:
        self._owners: dict[int, Owner] = {}
        self._texts: dict[int, str] = {}

    def __getitem__(self, signature: int) -> Owner:
        return self._owners[signature]

    def __setitem__(self, signature: int, owner: Owner) -> None:
        self._owners[signature] = owner
        if signature not in self._texts:
            self._texts[signature] = str(signature)

    def __delitem__(self, signature: int) -> None:
        del self._owners[signature]
        del self._texts[signature]

    def pop(self, signature: int) -> Owner:
        owner = self._owners.pop(signature)
        del self._texts[signature]
        return owner

    def update(self, pairs: Iterable[tuple[int, Owner]]) -> None:
        for signature, owner in pairs:
            self[signature] = owner

    def __contains__(self, signature: object) -> bool:
        return signature in self._owners

    def __iter__(self) -> Iterator[int]:
        return iter(self._owners)

    def __len__(self) -> int:
        return len(self._owners)

    def array_literal(self) -> str:
        """The signatures held, as a PostgreSQL array literal (for `$1::text::bigint[]`)."""
        return "{" + ",".join(self._texts.values()) + "}"
