"""Looks: when a comparison is judged repeatedly as repetitions are added (adaptive repetitions,
LoadGen-style early stopping), each look is one more chance of a false alarm. The gate bounds the
looks and splits its α between them (Bonferroni over looks, a simple α-spending):

- at most three looks per cell: after the planned R repetitions, halfway to `max_repetitions`,
  and at `max_repetitions` (12, 18, 24 by default);
- the first look spends half of α (most cells are decided there, and the exact Mann–Whitney tails
  are steep, so α/2 costs little power), the later looks a quarter each;
- a cell judged at look k tests its p-value against α·w_k, i.e. its p-value is p / w_k before
  Holm runs across the cells. P(any look rejects a true null) ≤ Σ α·w_k = α, whatever the stopping
  rule, so the false-alarm budget holds however often a close call is looked at.

A run measured without looks (no baseline while it ran) is one look with the whole α.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_LOOKS = 3


@dataclass(frozen=True)
class Looks:
    at: tuple[int, ...]
    """Repetitions per cell at each look."""

    @classmethod
    def single(cls) -> Looks:
        return cls(())

    @classmethod
    def plan(cls, repetitions: int, max_repetitions: int) -> Looks:
        """Looks at R, halfway to the maximum and at the maximum (fewer when they coincide)."""
        if max_repetitions <= repetitions:
            return cls((repetitions,))
        halfway = (repetitions + max_repetitions + 1) // 2
        at = sorted({repetitions, halfway, max_repetitions})
        return cls(tuple(at[:MAX_LOOKS]))

    @property
    def adaptive(self) -> bool:
        return len(self.at) > 1

    def weights(self) -> tuple[float, ...]:
        if len(self.at) <= 1:
            return (1.0,)
        later = 0.5 / (len(self.at) - 1)
        return (0.5, *([later] * (len(self.at) - 1)))

    def index(self, repetitions: int) -> int:
        """The look (0-based) a cell with this many repetitions is judged at: the first look at
        or beyond them (a cell stopped by the time budget between looks spends the next one)."""
        for k, n in enumerate(self.at):
            if repetitions <= n:
                return k
        return max(len(self.at) - 1, 0)

    def weight(self, repetitions: int) -> float:
        """The share of α this cell's test gets."""
        return self.weights()[self.index(repetitions)] if self.at else 1.0

    def after(self, repetitions: int) -> int | None:
        """Repetitions at the next look after this many, or None at the last."""
        later = [n for n in self.at if n > repetitions]
        return later[0] if later else None

    def payload(self) -> dict[str, Any]:
        return {"at": list(self.at), "weights": list(self.weights())}

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Looks:
        """The looks a stored run was measured with (run.json "looks"), else one look."""
        data = manifest.get("looks")
        if not isinstance(data, dict) or not isinstance(data.get("at"), list):
            return cls.single()
        at = data["at"]
        if not all(isinstance(n, int) and n > 0 for n in at) or len(at) > MAX_LOOKS:
            return cls.single()
        return cls(tuple(sorted(at)))
