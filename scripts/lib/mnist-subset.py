#!/usr/bin/env python3
"""Writes the first N training and M test images of an MNIST directory (raw or .gz IDX files) as a new,
smaller MNIST directory (gzipped IDX): short runs on real data for the fault trials and benchmarks.

usage: mnist-subset.py SRC DST N_TRAIN N_TEST"""
import gzip
import os
import struct
import sys

if len(sys.argv) != 5:
    sys.exit(__doc__)
src, dst, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(dst, exist_ok=True)


def read(name):
    for cand in (name, name + ".gz"):
        p = os.path.join(src, cand)
        if os.path.exists(p):
            return (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
    sys.exit(f"mnist-subset: {name} not found in {src}")


for prefix, n in (("train", n_train), ("t10k", n_test)):
    for kind, rec in (("images-idx3-ubyte", 784), ("labels-idx1-ubyte", 1)):
        raw = read(f"{prefix}-{kind}")
        head = 16 if rec == 784 else 8
        out = bytearray(raw[:head])
        struct.pack_into(">I", out, 4, n)
        with gzip.open(os.path.join(dst, f"{prefix}-{kind}.gz"), "wb") as f:
            f.write(bytes(out) + raw[head:head + n * rec])
