#!/usr/bin/env python3
"""Reads a safetensors checkpoint with nothing but numpy and the stdlib.

Prints "name dtype shape" per tensor in data order, the metadata keys, checks
the optional crc32 metadata (zlib CRC-32 of the data section) and loads every
tensor as a numpy array.  Exits 1 with a message when the file is malformed.
"""
import json
import struct
import sys
import zlib

import numpy as np


def fail(msg):
    sys.exit(f"{sys.argv[1]}: {msg}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: read_checkpoint.py FILE.safetensors")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("truncated: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        fail(f"truncated: header claims {n} bytes but the file has {len(blob) - 8}")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except ValueError as e:
        fail(f"header is not valid JSON: {e}")
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    for name, t in tensors:
        print(name, t["dtype"], t["shape"])
    for key, value in meta.items():
        print(f"{key} = {value[:60]}")
    if "crc32" in meta:
        if f"{zlib.crc32(data):08x}" != meta["crc32"].lower():
            sys.exit("crc32 mismatch")
        print("crc32 ok")
    end = 0
    for name, t in tensors:
        begin, stop = t["data_offsets"]
        if t["dtype"] != "F32" or begin != end or stop > len(data):
            fail(f"tensor {name}: unsupported dtype or offsets not contiguous")
        np.frombuffer(data[begin:stop], dtype="<f4").reshape(t["shape"])
        end = stop
    if end != len(data):
        fail(f"{len(data) - end} bytes after the last tensor")


if __name__ == "__main__":
    try:
        main()
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        fail(f"malformed header: {e!r}")
