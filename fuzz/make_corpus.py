#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ (small files, committed).

usage: python3 fuzz/make_corpus.py [AETRAIN]
AETRAIN (a built aetrain) also writes the checkpoint seeds from tiny runs.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data):
    return gzip.compress(data, mtime=0)


def main():
    # IDX: uint8 images, float32 rows, labels, 1-D, gzip; a truncated one.
    img = idx(0x08, [3, 2, 2], bytes(range(12)))
    put("idx", "u8-3x2x2.idx", img)
    put("idx", "u8-3x2x2.idx.gz", gz(img))
    put("idx", "f32-2x3.idx", idx(0x0D, [2, 3], struct.pack(">6f", 0, 0.5, 1, -1, 2.5, 3)))
    put("idx", "labels-u8.idx", idx(0x08, [4], bytes([0, 1, 2, 9])))
    put("idx", "labels-i32.idx", idx(0x0C, [2], struct.pack(">2i", 3, 7)))
    put("idx", "truncated.idx", idx(0x08, [3, 2, 2], bytes(5)))
    put("idx", "f32-4d.idx.gz", gz(idx(0x0D, [1, 1, 2, 2], struct.pack(">4f", 1, 2, 3, 4))))

    # CSV: the first byte is the harness's option byte (header mode in bits
    # 0-1: 0 auto, 1 none, 2 header; label column in bits 2-3: none, 0, 1, "label").
    csv = [
        ("header-auto.csv", 0, "a,b,c\n1,2,3\n4,5,6\n"),
        ("noheader.csv", 1, "1,2,3\n4.5,-6e-1,7\n"),
        ("label-name.csv", 2 | 12, "x,y,label\n0.1,0.2,1\n0.3,0.4,0\n"),
        ("label-first.csv", 1 | 4, "3,0.5,0.25\n1,1,0\n"),
        ("crlf.csv", 0, "a,b\r\n1,2\r\n3,4\r\n"),
        ("blank-lines.csv", 2 | 8, "a,lab\n\n1,2\n  \n3,4\n"),
        ("quoted.csv", 2, '"a","b"\n"1",2\n'),
        ("bad-cell.csv", 1, "1,2\n3,x\n"),
        ("ragged.csv", 1, "1,2\n3\n"),
    ]
    for name, opt, text in csv:
        put("csv", name, bytes([opt]) + text.encode())
    put("csv", "gzip.csv", bytes([0]) + gz(b"a,b\n1,2\n"))

    # Specs: every shipped config, minimal ones, and some with --set lines
    # (after a NUL, one override per line).
    cfgdir = os.path.join(ROOT, "configs")
    for name in sorted(os.listdir(cfgdir)):
        if name.endswith(".json"):
            with open(os.path.join(cfgdir, name), "rb") as f:
                put("spec", name, f.read())
    put("spec", "empty-object.json", "{}")
    put("spec", "minimal.json", '{"data": {"train": "x.csv"}}')
    put("spec", "overrides.json",
        '{"model": {"type": "ae"}}\0model.latent=2\nmodel.encoder=[8,4]\n'
        'data.train=t.csv\ntrain.lr=0.01\nmodel.noise.type=masking\nmodel.noise.p=0.2')
    put("spec", "overrides-hvae.json",
        '{"model": {"type": "hvae", "latent": [4, 2]}}\0model.hidden2=[6]\n'
        'data.csv.label_column=label\ndata.csv.header=true\ntrain.seed=18446744073709551615')
    put("spec", "overrides-sparse.json",
        '{"model": {"type": "ae", "sparsity": {"type": "topk", "k": 3}}}\0'
        'model.tied=true\nmodel.code_activation=sigmoid\noutput.images=false')
    put("spec", "bad-json.json", '{"model": {"latent": 2,}}')
    put("spec", "bad-value.json", '{"model": {"encoder": [4, -3]}}')

    # Latent codes: the first byte is the harness's L - 1.
    put("codes", "header.csv", bytes([1]) + b"z0,z1,label\n0.5,-1,3\n2,3,1\n")
    put("codes", "header-reordered.csv", bytes([1]) + b"id,z1,z0\n1,0.5,-1\n2,2,3\n")
    put("codes", "noheader.csv", bytes([2]) + b"1,2,3\n4,5,6\n")
    put("codes", "wrong-width.csv", bytes([1]) + b"1,2,3\n")

    if len(sys.argv) > 1:
        checkpoints(os.path.abspath(sys.argv[1]))


def checkpoints(aetrain):
    """Tiny trained models (input dim 4): model.safetensors of a few families."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train.csv")
        with open(data, "w") as f:
            f.write("a,b,c,d,label\n")
            for i in range(8):
                f.write("%g,%g,%g,%g,%d\n" % (i / 8, 1 - i / 8, (i % 3) / 3, (i % 2), i % 2))
        base = {"data": {"train": data, "csv": {"label_column": "label"}},
                "train": {"epochs": 1, "batch_size": 4, "threads": 1},
                "output": {"images": False}}
        models = {
            "ae": {"type": "ae", "encoder": [3], "latent": 2},
            "vae": {"type": "vae", "encoder": [3], "latent": 2},
            "cvae": {"type": "cvae", "encoder": [3], "latent": 2, "classes": 2},
            "hvae": {"type": "hvae", "encoder": [3], "latent": [2, 1], "hidden2": [2]},
        }
        for name, model in models.items():
            spec = dict(base, model=model)
            out = os.path.join(tmp, name)
            spec["output"] = dict(base["output"], dir=out)
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(spec, f)
            subprocess.run([aetrain, "--config", path, "--quiet"], check=True)
            for src, dst in (("model.safetensors", name + "-model.safetensors"),
                             ("checkpoint.safetensors", name + "-checkpoint.safetensors")):
                if os.path.exists(os.path.join(out, src)):
                    put("checkpoint", dst, open(os.path.join(out, src), "rb").read())


if __name__ == "__main__":
    main()
