#!/usr/bin/env python3
"""Serves an exported recsys-dist retriever without recsys-dist: its user tower (model.onnx,
scored by onnxruntime) and its items' vectors (model.onnx.items.h5, read by h5py), each user's
top K items by the dot product of the vectors, the user's excluded items left out. An exact
scan with numpy; a vector index (FAISS) over the same vectors answers the same question faster.

    launch/retrieve-onnx.py model.onnx model.onnx.items.h5 users.tsv --k 100 [--exclude seen.tsv]

users.tsv: one user per line, the model's ids input for it: one id per table, tab-separated
(-1 where a table has none; the item tower's tables are not read). seen.tsv: lines "user item"
(the user's 0-based line in users.tsv, an item id) to leave out. Prints one JSON line per user:
{"user": line, "items": [...], "scores": [...]}, best first.

Needs numpy, onnxruntime and h5py: python3 -m venv .venv && .venv/bin/pip install numpy
onnxruntime h5py (launch/test.sh makes .venv-test so).
"""
import argparse
import json
import sys

try:
    import h5py
    import numpy as np
    import onnxruntime
except ImportError as error:
    sys.exit(f"retrieve-onnx.py needs numpy, onnxruntime and h5py ({error}): "
             "python3 -m venv .venv && .venv/bin/pip install numpy onnxruntime h5py")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("items")
    parser.add_argument("users")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--exclude")
    args = parser.parse_args()

    with h5py.File(args.items, "r") as f:
        if f.attrs.get("format") != "recsys-dist item vectors":
            sys.exit(f"{args.items}: not a file of recsys-dist item vectors")
        item_ids = f["item_ids"][:, 0]
        vectors = f["vectors"][:]
    ids = np.loadtxt(args.users, dtype=np.int64, ndmin=2)
    session = onnxruntime.InferenceSession(args.model)
    user_vectors = session.run(["user_vector"], {"ids": ids[:, :, None]})[0]
    scores = user_vectors @ vectors.T
    if args.exclude:
        column = {int(item): c for c, item in enumerate(item_ids)}
        for line in open(args.exclude):
            user, item = (int(x) for x in line.split())
            if item in column:
                scores[user, column[item]] = -np.inf
    k = min(args.k, len(item_ids))
    for user, row in enumerate(scores):
        # Best first; ties to the smaller item id, as recsys-dist orders them.
        best = sorted(np.argsort(-row, kind="stable")[: k + 64], key=lambda c: (-row[c], item_ids[c]))[:k]
        best = [c for c in best if np.isfinite(row[c])]
        print(json.dumps({"user": user, "items": [int(item_ids[c]) for c in best],
                          "scores": [round(float(row[c]), 6) for c in best]}))


if __name__ == "__main__":
    main()
