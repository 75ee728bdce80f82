"""A small, real training job: logistic regression by gradient descent, standard library only.

It writes what cml-infra reports on: `metrics.json` (final metrics) and `dvclive`-style
per-epoch history in `history.csv`. Run it with `python train.py [--epochs N] [--lr X]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from pathlib import Path


def make_data(n: int, seed: int) -> list[tuple[float, float, int]]:
    """Two overlapping Gaussian blobs, labelled 0 and 1."""
    rng = random.Random(seed)
    points = []
    for i in range(n):
        label = i % 2
        centre = 1.0 if label else -1.0
        points.append((rng.gauss(centre, 1.2), rng.gauss(centre, 1.2), label))
    return points


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


def evaluate(weights: list[float], data: list[tuple[float, float, int]]) -> tuple[float, float]:
    """Mean log-loss and accuracy of `weights` (w1, w2, bias) on `data`."""
    loss, correct = 0.0, 0
    for x1, x2, y in data:
        p = sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2])
        loss -= math.log(p if y else 1.0 - p)  # sigmoid's clamp keeps p off 0 and 1
        correct += int((p >= 0.5) == bool(y))
    return loss / len(data), correct / len(data)


def train(epochs: int, lr: float, seed: int) -> tuple[dict[str, float], list[dict[str, float]]]:
    data = make_data(600, seed)
    train_set, test_set = data[:480], data[480:]
    weights = [0.0, 0.0, 0.0]
    history = []
    for epoch in range(1, epochs + 1):
        grads = [0.0, 0.0, 0.0]
        for x1, x2, y in train_set:
            error = sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2]) - y
            for k, feature in enumerate((x1, x2, 1.0)):
                grads[k] += error * feature / len(train_set)
        weights = [w - lr * g for w, g in zip(weights, grads, strict=True)]
        train_loss, _ = evaluate(weights, train_set)
        history.append({"epoch": epoch, "train_loss": round(train_loss, 6)})
    test_loss, accuracy = evaluate(weights, test_set)
    return {"accuracy": round(accuracy, 4), "loss": round(test_loss, 6)}, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    metrics, history = train(args.epochs, args.lr, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    with (args.out / "history.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "train_loss"])
        writer.writeheader()
        writer.writerows(history)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
