#!/usr/bin/python3
"""Parses a Prometheus text exposition from stdin with an independent parser,
python3-prometheus-client's (Debian's), and prints its samples as JSON lines:
{"name": ..., "type": ..., "labels": {...}, "value": ...}.

Exit 1 when the text does not parse, or when a family is declared twice, a sample's
name belongs to no declared family, or a counter family does not end in _total:
what Prometheus itself would reject or warn about.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        print("exposition does not end with a newline", file=sys.stderr)
        return 1
    seen = set()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print(f"parse error: {e}", file=sys.stderr)
        return 1
    for family in families:
        if family.name in seen:
            print(f"family {family.name} declared twice", file=sys.stderr)
            return 1
        seen.add(family.name)
        for sample in family.samples:
            name = sample.name
            if name != family.name and not any(name == family.name + s for s in SUFFIXES):
                print(f"sample {name} outside its family {family.name}", file=sys.stderr)
                return 1
            print(json.dumps({"name": name, "type": family.type, "labels": sample.labels,
                              "value": sample.value}))
    # The client library strips _total from counter family names; a counter whose
    # samples lack it was declared without it.
    for family in families:
        if family.type == "counter":
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    print(f"counter sample {sample.name} lacks _total", file=sys.stderr)
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
