#!/usr/bin/env python3
"""Writes the seed corpora of the decoder fuzz targets (scripts/fuzz.sh) under DIR/<target>/: small
valid examples of each format, synthetic (no MNIST data), generated on every fuzz run rather than
committed. Deterministic: rerunning it writes the same bytes. Inputs that once crashed a decoder are
committed instead (Fuzz/corpus/<target>/regression-*), as are the wire, model and checkpoint seeds
(DIGITS_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzCorpusTests), which embed Codable headers.

    scripts/fuzz-corpus.py DIR        # write png, gzip, idx, multipart and predict seeds into DIR
"""
import gzip
import json
import os
import struct
import sys
import zlib

ROOT = ""


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- PNG ---------------------------------------------------------------------------------------

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, bit_depth, color_type, rows, interlace=0, extra=()):
    """rows: the already filtered scanlines (filter byte first), all passes concatenated."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, data in extra:
        out += chunk(kind, data)
    out += chunk(b"IDAT", zlib.compress(bytes(rows)))
    return out + chunk(b"IEND", b"")


def scanlines(width, height, bytes_per_pixel, filters, seed=7):
    out = []
    v = seed
    for y in range(height):
        out.append(filters[y % len(filters)])
        for _ in range(width * bytes_per_pixel):
            v = (v * 73 + 41) % 251
            out.append(v)
    return out


def packed_rows(width, height, depth, filters):
    row_bytes = (width * depth + 7) // 8
    return scanlines(row_bytes, height, 1, filters)


def adam7_rows(width, height, bpp):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = []
    for i, (x0, y0, dx, dy) in enumerate(passes):
        pw = (width - x0 + dx - 1) // dx if width > x0 else 0
        ph = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pw and ph:
            out += scanlines(pw, ph, bpp, [i % 5], seed=i + 3)
    return out


def png_seeds():
    yield "gray8-filters", png(5, 5, 8, 0, scanlines(5, 5, 1, [0, 1, 2, 3, 4]))
    yield "gray1", png(9, 3, 1, 0, packed_rows(9, 3, 1, [0, 1, 2]))
    yield "gray16-trns", png(3, 2, 16, 0, scanlines(3, 2, 2, [1, 4]), extra=[(b"tRNS", b"\x12\x34")])
    yield "rgb8", png(4, 3, 8, 2, scanlines(4, 3, 3, [4, 3, 2]))
    yield "rgb8-trns-text", png(2, 2, 8, 2, scanlines(2, 2, 3, [0]),
                                extra=[(b"tEXt", b"Comment\x00fuzz"), (b"tRNS", b"\x00\x01\x00\x02\x00\x03")])
    yield "gray-alpha8", png(3, 3, 8, 4, scanlines(3, 3, 2, [2]))
    yield "rgba16", png(2, 2, 16, 6, scanlines(2, 2, 8, [1, 4]))
    palette = bytes([0, 0, 0, 255, 255, 255, 128, 64, 32, 10, 200, 90])
    yield "palette2-trns", png(7, 2, 2, 3, [0, 0x1B, 0xE4, 1, 0x6C, 0x93],
                               extra=[(b"PLTE", palette), (b"tRNS", b"\xff\x80")])
    yield "palette8", png(3, 2, 8, 3, [0, 0, 1, 2, 2, 3, 1, 0], extra=[(b"PLTE", palette)])
    yield "adam7-gray8", png(9, 9, 8, 0, adam7_rows(9, 9, 1), interlace=1)
    two_idat = png(4, 4, 8, 0, scanlines(4, 4, 1, [0]))
    # The same image with its IDAT split in two chunks.
    raw = zlib.compress(bytes(scanlines(4, 4, 1, [0])))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    yield "split-idat", (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw[:7])
                         + chunk(b"IDAT", raw[7:]) + chunk(b"IEND", b""))
    yield "gray8-4x4", two_idat


# ---- gzip, zlib, IDX -----------------------------------------------------------------------------

def gz(data):
    return gzip.compress(data, mtime=0)


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def main():
    for name, data in png_seeds():
        write("png", name, data)

    text = b"Digits fuzz seed: " + bytes(range(64)) * 3
    write("gzip", "gzip-text", gz(text))
    write("gzip", "gzip-empty", gz(b""))
    write("gzip", "gzip-two-members", gz(b"first member ") + gz(b"second member"))
    write("gzip", "gzip-zero-padding", gz(b"padded") + b"\x00" * 8)
    write("gzip", "zlib-text", zlib.compress(text))
    write("gzip", "zlib-stored", zlib.compress(b"stored block", 0))

    labels = idx([6], [5, 0, 4, 1, 9, 2])
    images = idx([2, 3, 4], [(i * 37) % 256 for i in range(24)])
    write("idx", "labels-1d", labels)
    write("idx", "images-3d", images)
    write("idx", "empty-dim", idx([0, 28, 28], []))
    write("idx", "labels-1d.gz", gz(labels))
    write("idx", "images-3d.gz", gz(images))

    small_png = dict(png_seeds())["gray8-4x4"]
    b = "XyZzy-123"
    form = (f"--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + small_png + f"\r\n--{b}--\r\n".encode()
    write("multipart", "one-image", f"multipart/form-data; boundary={b}\n".encode() + form)
    two = (f"--{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
           f"--{b}\r\nContent-Disposition: form-data; name=image; filename=x.png\r\n\r\n").encode() \
        + small_png + f"\r\n--{b}--\r\n".encode()
    write("multipart", "two-parts", f"multipart/form-data; charset=utf-8; boundary=\"{b}\"\n".encode() + two)
    write("multipart", "no-parts", b"multipart/form-data; boundary=q\n--q--\r\n")

    flat = [(i * 7) % 256 for i in range(784)]
    rows = [flat[r * 28:(r + 1) * 28] for r in range(28)]
    unit = [round(v / 255, 3) for v in flat]
    write("predict", "json-flat", b"\x00" + json.dumps(flat, separators=(",", ":")).encode())
    write("predict", "json-rows", b"\x00" + json.dumps(rows, separators=(",", ":")).encode())
    write("predict", "json-batch", b"\x00" + json.dumps([flat, rows], separators=(",", ":")).encode())
    write("predict", "json-unit", b"\x00" + json.dumps(unit, separators=(",", ":")).encode())
    write("predict", "png", b"\x01" + small_png)
    fuzz_form = (b"--fuzz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n" + small_png
                 + b"\r\n--fuzz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n" + small_png + b"\r\n--fuzz--\r\n")
    write("predict", "multipart-batch", b"\x03" + fuzz_form)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/fuzz-corpus.py DIR")
    ROOT = sys.argv[1]
    main()
