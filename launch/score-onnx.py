#!/usr/bin/env python3
"""Scores an exported recsys-dist model with onnxruntime on the samples of a predictions file
(`recsys-dist evaluate --predictions FILE`: label, probability, dense features, each table's ids)
and compares with the probabilities recsys-dist gave them. Prints one JSON line. A model of
several tasks (columns label_<task>, probability_<task> or prediction_<task>) is compared output
by output, each under "tasks".

    launch/score-onnx.py model.onnx predictions.tsv --dense 13 --tables 26

Needs numpy and onnxruntime: python3 -m venv .venv && .venv/bin/pip install numpy onnxruntime,
then run it with .venv/bin/python launch/score-onnx.py ... (launch/test.sh makes .venv-test so).
"""
import argparse
import json
import sys

try:
    import numpy as np
    import onnxruntime
except ImportError as error:
    sys.exit(f"score-onnx.py needs numpy and onnxruntime ({error}): "
             "python3 -m venv .venv && .venv/bin/pip install numpy onnxruntime, then .venv/bin/python launch/score-onnx.py ...")


def read_predictions(path, dense_count, table_count):
    """The score columns' names (from the header), labels and scores (samples x tasks), dense
    features and ids."""
    labels, scores, dense, bags, outputs = [], [], [], [], ["probability"]
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0].startswith("label"):   # the header line: scores', then the features' names
                outputs = [name for name in fields if name.startswith(("probability", "prediction"))]
                continue
            tasks = len(outputs)
            labels.append([float(fields[2 * k]) for k in range(tasks)])
            scores.append([float(fields[2 * k + 1]) for k in range(tasks)])
            first = 2 * tasks
            dense.append([float(x) for x in fields[first:first + dense_count]])
            bags.append([[int(x) for x in field.split(",")] if field else []
                         for field in fields[first + dense_count:first + dense_count + table_count]])
    bag = max(1, max(len(b) for sample in bags for b in sample))
    ids = np.full((len(bags), table_count, bag), -1, dtype=np.int64)   # -1: padding
    for n, sample in enumerate(bags):
        for t, b in enumerate(sample):
            ids[n, t, :len(b)] = b
    return (outputs, np.array(labels), np.array(scores), np.array(dense, dtype=np.float32).reshape(len(labels), dense_count), ids)


def auc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(order):          # tied scores share their average rank
        end = start
        while end + 1 < len(order) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    positives = labels >= 0.5
    p, n = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - p * (p + 1) / 2) / (p * n))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("predictions")
    parser.add_argument("--dense", type=int, required=True, help="dense features per sample")
    parser.add_argument("--tables", type=int, required=True, help="embedding tables")
    args = parser.parse_args()
    outputs, labels, expected, dense, ids = read_predictions(args.predictions, args.dense, args.tables)
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    feeds = {"ids": ids}
    if args.dense > 0:
        feeds["dense"] = dense
    scored = [result[:, 0].astype(np.float64) for result in session.run(outputs, feeds)]
    tasks = {}
    for k, name in enumerate(outputs):
        task = {"max_abs_difference": float(np.abs(scored[k] - expected[:, k]).max())}
        if name.startswith("probability"):
            task.update(auc_onnx=auc(scored[k], labels[:, k]), auc_recsys_dist=auc(expected[:, k], labels[:, k]))
        tasks[name.split("_", 1)[1] if "_" in name else name] = task
    first = tasks[next(iter(tasks))]
    print(json.dumps({"samples": len(labels), "max_abs_difference": max(t["max_abs_difference"] for t in tasks.values()),
                      "auc_onnx": first.get("auc_onnx"), "auc_recsys_dist": first.get("auc_recsys_dist"), "tasks": tasks}))


if __name__ == "__main__":
    main()
