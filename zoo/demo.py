"""`make demo`: the main job on the embedded default data (grows as the zoo grows)."""
from __future__ import annotations

import argparse
import pathlib

import numpy as np

import minigrad as mg


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out", help="folder for pictures and logs")
    args = parser.parse_args(argv)
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    # The 'hello' task with a scalar-engine RNN until the zoo's models arrive.
    vocab = "helo"
    rng = np.random.default_rng(0)
    H = 6
    Wxh = [[mg.Value(rng.normal(0, 0.5)) for _ in vocab] for _ in range(H)]
    Whh = [[mg.Value(rng.normal(0, 0.3)) for _ in range(H)] for _ in range(H)]
    Why = [[mg.Value(rng.normal(0, 0.5)) for _ in range(H)] for _ in vocab]
    params = [v for m in (Wxh, Whh, Why) for row in m for v in row]
    text = "hello"
    for step in range(300):
        h = [mg.Value(0.0)] * H
        loss = mg.Value(0.0)
        for t in range(len(text) - 1):
            x = vocab.index(text[t])
            h = [(Wxh[i][x] + sum((Whh[i][j] * h[j] for j in range(H)), mg.Value(0.0))).tanh() for i in range(H)]
            logits = [sum((Why[k][j] * h[j] for j in range(H)), mg.Value(0.0)) for k in range(len(vocab))]
            z = sum((lg.exp() for lg in logits), mg.Value(0.0))
            loss = loss - (logits[vocab.index(text[t + 1])].exp() / z).log()
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= 0.3 * p.grad
    print(f"'hello' scalar RNN: final loss {loss.data:.4f} over {len(params)} parameters")


if __name__ == "__main__":
    main()
