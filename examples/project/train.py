"""A small, real training job: logistic regression by gradient descent, standard library only.

It reads its data from `data/points.csv`, a file tracked with DVC (`dvc pull` fetches it in CI
through the runner's machine identity; `python train.py --make-data` writes the same file
from a seed when there is no DVC remote), and writes what cml-infra reports on:

- `metrics.json`: final test metrics (accuracy, loss, precision, recall);
- `history.csv`: the training curve, train and test loss per epoch;
- `plots/confusion.json`: the confusion matrix on the test set, as a Vega-Lite spec that
  `cml-infra plot` renders.

Run it with `python train.py [--epochs N] [--lr X] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "points.csv"

Point = tuple[float, float, int]


def make_data(n: int, seed: int) -> list[Point]:
    """Two overlapping Gaussian blobs, labelled 0 and 1."""
    rng = random.Random(seed)
    points = []
    for i in range(n):
        label = i % 2
        centre = 1.0 if label else -1.0
        points.append((round(rng.gauss(centre, 1.2), 6), round(rng.gauss(centre, 1.2), 6),
                       label))
    return points


def write_data(path: Path, points: list[Point]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["x1", "x2", "label"])
        writer.writerows(points)


def read_data(path: Path) -> list[Point]:
    with path.open(newline="") as handle:
        return [(float(row["x1"]), float(row["x2"]), int(row["label"]))
                for row in csv.DictReader(handle)]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


def predict(weights: list[float], x1: float, x2: float) -> float:
    return sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2])


def log_loss(weights: list[float], data: list[Point]) -> float:
    loss = 0.0
    for x1, x2, y in data:
        p = predict(weights, x1, x2)
        loss -= math.log(p if y else 1.0 - p)  # sigmoid's clamp keeps p off 0 and 1
    return loss / len(data)


def confusion(weights: list[float], data: list[Point]) -> dict[tuple[int, int], int]:
    """Counts per (actual, predicted) label."""
    counts = {(a, p): 0 for a in (0, 1) for p in (0, 1)}
    for x1, x2, y in data:
        counts[(y, int(predict(weights, x1, x2) >= 0.5))] += 1
    return counts


def train(data: list[Point], epochs: int, lr: float
          ) -> tuple[dict[str, float], list[dict[str, float]], dict[tuple[int, int], int]]:
    split = len(data) * 4 // 5
    train_set, test_set = data[:split], data[split:]
    weights = [0.0, 0.0, 0.0]
    history = []
    for epoch in range(1, epochs + 1):
        grads = [0.0, 0.0, 0.0]
        for x1, x2, y in train_set:
            error = predict(weights, x1, x2) - y
            for k, feature in enumerate((x1, x2, 1.0)):
                grads[k] += error * feature / len(train_set)
        weights = [w - lr * g for w, g in zip(weights, grads, strict=True)]
        history.append({"epoch": epoch, "train_loss": round(log_loss(weights, train_set), 6),
                        "test_loss": round(log_loss(weights, test_set), 6)})
    counts = confusion(weights, test_set)
    tp, fp, fn = counts[(1, 1)], counts[(0, 1)], counts[(1, 0)]
    metrics = {
        "accuracy": round((counts[(0, 0)] + tp) / len(test_set), 4),
        "loss": round(log_loss(weights, test_set), 6),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
    }
    return metrics, history, counts


def confusion_spec(counts: dict[tuple[int, int], int]) -> dict:
    """A Vega-Lite heatmap of the confusion matrix, with its counts written in the cells."""
    values = [{"actual": str(a), "predicted": str(p), "count": n}
              for (a, p), n in sorted(counts.items())]
    encoding = {"x": {"field": "predicted", "type": "nominal", "title": "predicted"},
                "y": {"field": "actual", "type": "nominal", "title": "actual"}}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Confusion matrix (test set)",
        "width": 220, "height": 220,
        "data": {"values": values},
        "encoding": encoding,
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "count", "type": "quantitative",
                                                    "legend": None}}},
            {"mark": {"type": "text", "fontSize": 16},
             "encoding": {"text": {"field": "count", "type": "quantitative"}}},
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--data", type=Path, default=DATA, help="CSV with x1,x2,label")
    parser.add_argument("--seed", type=int, default=7, help="seed of --make-data")
    parser.add_argument("--make-data", action="store_true",
                        help="write --data from --seed and exit (what `dvc pull` fetches)")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    if args.make_data:
        write_data(args.data, make_data(600, args.seed))
        return
    if not args.data.is_file():
        parser.exit(1, f"{args.data} is missing: run `dvc pull` (or `python train.py "
                       "--make-data` to write it without DVC).\n")
    metrics, history, counts = train(read_data(args.data), args.epochs, args.lr)
    (args.out / "plots").mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    with (args.out / "history.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "train_loss", "test_loss"])
        writer.writeheader()
        writer.writerows(history)
    (args.out / "plots" / "confusion.json").write_text(
        json.dumps(confusion_spec(counts), indent=2) + "\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
