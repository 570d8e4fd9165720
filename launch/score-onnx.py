#!/usr/bin/env python3
"""Scores an exported recsys-dist model with onnxruntime on the samples of a predictions file
(`recsys-dist evaluate --predictions FILE`: label, probability, dense features, each table's ids)
and compares with the probabilities recsys-dist gave them. Prints one JSON line.

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
    labels, probabilities, dense, bags = [], [], [], []
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "label":       # the header line: the features' names
                continue
            labels.append(float(fields[0]))
            probabilities.append(float(fields[1]))
            dense.append([float(x) for x in fields[2:2 + dense_count]])
            bags.append([[int(x) for x in field.split(",")] if field else []
                         for field in fields[2 + dense_count:2 + dense_count + table_count]])
    bag = max(1, max(len(b) for sample in bags for b in sample))
    ids = np.full((len(bags), table_count, bag), -1, dtype=np.int64)   # -1: padding
    for n, sample in enumerate(bags):
        for t, b in enumerate(sample):
            ids[n, t, :len(b)] = b
    return (np.array(labels), np.array(probabilities), np.array(dense, dtype=np.float32).reshape(len(labels), dense_count), ids)


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
    labels, expected, dense, ids = read_predictions(args.predictions, args.dense, args.tables)
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    feeds = {"ids": ids}
    if args.dense > 0:
        feeds["dense"] = dense
    probability = session.run(["probability"], feeds)[0][:, 0].astype(np.float64)
    print(json.dumps({"samples": len(labels), "max_abs_difference": float(np.abs(probability - expected).max()),
                      "auc_onnx": auc(probability, labels), "auc_recsys_dist": auc(expected, labels)}))


if __name__ == "__main__":
    main()
