#!/usr/bin/env python3
"""The reference for serving an exported recsys-dist model: turns raw data lines into the
model's inputs (dense values and each table's row ids) by the rules of `<model>.inputs.json`,
which `recsys-dist export` writes beside the model. Prints one line per data line in the
columns of `recsys-dist evaluate --predictions` after the labels and scores: the dense values,
then each table's bag as comma-separated row ids. Python's standard library only.

    launch/onnx_inputs.py model.onnx.inputs.json data.csv > inputs.tsv

Use `inputs(mapping, fields, joined)` from your own serving code: `fields` are one line's
values (strings), `joined` the rows of each joined file by key (`load_joins`).
"""
import csv
import datetime
import json
import math
import sys

MASK = (1 << 64) - 1


def fnv1a64(text):
    """64-bit FNV-1a of the UTF-8 bytes: how recsys-dist hashes a categorical value."""
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & MASK
    return value


def civil_time(text, form):
    """(hour, weekday with Monday 0) of a timestamp, UTC."""
    if form == "unix":
        moment = datetime.datetime.fromtimestamp(int(text), tz=datetime.timezone.utc)
    elif form == "iso8601":
        moment = datetime.datetime.strptime(text[:13].replace("T", " "), "%Y-%m-%d %H")
    elif form == "yymmddhh":
        moment = datetime.datetime.strptime("20" + text, "%Y%m%d%H")
    else:
        raise ValueError(f"unknown timestamp format {form}")
    return moment.hour, moment.weekday()


def column_index(reference, header):
    return header.index(reference) if isinstance(reference, str) else reference


def load_joins(mapping):
    """Each joined file's rows by key, as recsys-dist reads them."""
    joined = {}
    for join in mapping.get("joins", []):
        rows = {}
        with open(join["path"], encoding="utf-8", errors="surrogateescape", newline="") as f:
            for fields in csv.reader(f, delimiter=join["delimiter"]):
                if fields:
                    rows[fields[join["key_column"]]] = fields
        joined[join["name"]] = rows
    return joined


def inputs(mapping, fields, joined, header=None):
    """(dense values, one list of row ids per table) of one line's `fields`."""
    def value(entry):
        column = column_index(entry["column"], header)
        if entry.get("join") is None:
            return fields[column]
        join = next(j for j in mapping["joins"] if j["name"] == entry["join"])
        return joined[entry["join"]][fields[column_index(join["on_column"], header)]][column]

    dense = []
    for entry in mapping["dense"]:
        text = value(entry)
        number = float(text) if text else 0.0
        dense.append(math.log1p(max(number, 0.0)) if entry["transform"] == "log1p" else number)
    bags = []
    for table in mapping["tables"]:
        rule, rows = table["rule"], table["rows"]
        if rule == "flags":
            flag_fields = fields if table.get("join") is None else joined[table["join"]][
                fields[column_index(next(j for j in mapping["joins"] if j["name"] == table["join"])["on_column"], header)]]
            bags.append([k % rows for k, column in enumerate(range(table["first"], table["last"] + 1))
                         if flag_fields[column] == "1"])
            continue
        if rule == "history":
            raise ValueError("a history table needs the user's earlier lines: keep them and hash each as a 'hash' value")
        text = value(table) if rule != "id" else None
        if rule == "id":
            raise ValueError("synthetic data: the inputs are the row ids themselves")
        if text == "":
            bags.append([0])  # a missing value's own row
            continue
        if rule == "hash":
            v = fnv1a64(text[: table["prefix"]] if table.get("prefix") else text)
        elif rule == "hex":
            v = int(text, 16)
        elif rule == "integer":
            v = int(text)
        elif rule in ("hour_of_day", "day_of_week"):
            hour, weekday = civil_time(text, table["timestamp_format"])
            v = hour if rule == "hour_of_day" else weekday
        elif rule == "buckets":
            number = float(text)
            v = sum(1 for boundary in table["boundaries"] if number >= boundary)
        else:
            raise ValueError(f"unknown rule {rule}")
        # The rows before the values' first (missing, and rare with a frequency threshold);
        # files of version 1 (value mapping 1) reserved none. A hashed value keeps its row
        # modulo the rows unless that row is reserved; a computed one is shifted past them.
        reserved = table.get("reserved_rows", 0)
        if rule in ("hash", "hex"):
            row = v % rows
            if row < reserved:
                row = reserved + (v // rows) % (rows - reserved)
        else:
            row = reserved + v % (rows - reserved)
        bags.append([row])
    return dense, bags


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: onnx_inputs.py MODEL.inputs.json DATA")
    with open(sys.argv[1]) as f:
        mapping = json.load(f)
    if mapping.get("frequency_threshold", 0) > 0:
        print("warning: values rarer than frequency_threshold were row 0 in training; this mapping hashes them",
              file=sys.stderr)
    joined = load_joins(mapping)
    delimiter = mapping.get("delimiter", "\t")
    with open(sys.argv[2], encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader) if mapping.get("header") else None
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        for fields in reader:
            if not fields:
                continue
            dense, bags = inputs(mapping, fields, joined, header)
            print("\t".join([repr(x) for x in dense] + [",".join(str(i) for i in bag) for bag in bags]))


if __name__ == "__main__":
    main()
