"""Test data builders shared by the suites."""

from __future__ import annotations

import random
from pathlib import Path

POSITIVE = ["great", "loved", "excellent", "wonderful", "fast", "friendly", "tasty", "perfect", "happy", "superb"]
NEGATIVE = ["awful", "hated", "terrible", "slow", "rude", "bland", "broken", "horrible", "sad", "disappointing"]
NEUTRAL = ["the", "food", "service", "movie", "phone", "was", "really", "quite", "and", "staff", "it", "very"]


def write_sentiment_corpus(path: Path, *, rows: int = 300, seed: int = 7) -> Path:
    """A small corpus in the UCI Sentiment Labelled Sentences format (sentence<TAB>label)."""
    rng = random.Random(seed)
    lines = []
    for i in range(rows):
        label = i % 2
        words = rng.sample(NEUTRAL, 4) + rng.sample(POSITIVE if label else NEGATIVE, 2)
        rng.shuffle(words)
        lines.append(" ".join(words).capitalize() + ".\t" + str(label))
    path.write_text("\n".join(lines) + "\n")
    return path
