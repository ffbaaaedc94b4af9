#!/usr/bin/env python3
"""Regenerates the vendored AWS service models from an installed botocore.

    python3 server/models/regenerate.py            # botocore from the running python
    .venv-clients/bin/python server/models/regenerate.py

Each model is botocore's data/<service>/<version>/service-2.json with the prose
dropped (documentation, examples, URLs): shapes, members, required, min/max,
pattern, enum, types, operations, errors and protocol metadata stay. The server
reads these files as data (include_str!) to validate requests.
"""
import gzip
import json
import os
import sys

import botocore

MODELS = [
    ("kinesis", "2013-12-02"),
    ("firehose", "2015-08-04"),
    ("sqs", "2012-11-05"),
    ("sns", "2010-03-31"),
]
DROPPED = {"documentation", "documentationUrl", "examples", "deprecatedMessage"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROPPED}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def load(service, version):
    base = os.path.join(os.path.dirname(botocore.__file__), "data", service, version)
    plain = os.path.join(base, "service-2.json")
    if os.path.exists(plain):
        with open(plain, encoding="utf-8") as f:
            return json.load(f)
    with gzip.open(plain + ".gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for service, version in MODELS:
        model = strip(load(service, version))
        out = os.path.join(here, f"{service}-{version}.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(model, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"{out}: {len(model['operations'])} operations, {len(model['shapes'])} shapes")
    print(f"botocore {botocore.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
