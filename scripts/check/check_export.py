"""Checks models exported by `digits export` against Digits' own probabilities.

  check_export.py --images t10k-images-idx3-ubyte[.gz] --probabilities digits.npy
                  [--onnx model.onnx] [--h5 model.h5] [--keras]

--probabilities is what `digits evaluate --probabilities-out` wrote for the same images (N, classes).
--onnx: onnx.checker.check_model, then onnxruntime on every image (raw 0..255 pixels, NHWC float32).
--h5: reads the Keras HDF5 file with h5py only (model_config JSON + model_weights) and runs the forward
      pass in numpy (float64), layer by layer from the stored config; an unknown layer class is an error.
--keras: also loads the .h5 with keras.models.load_model and predicts with it (Keras 3 on the JAX CPU
         backend unless KERAS_BACKEND says otherwise; scripts/py-requirements.txt installs both).
Prints one JSON object: for each runtime, images, argmax agreements and the max absolute probability
difference. Exits 1 on any error (the caller asserts on the numbers).
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 0x803:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic:#x})")
    images = np.frombuffer(data[16:], dtype=np.uint8)
    if images.size != count * rows * cols:
        raise SystemExit(f"{path}: expected {count * rows * cols} pixels, found {images.size}")
    return images.reshape(count, rows, cols, 1)


def compare(name, probabilities, reference):
    if probabilities.shape != reference.shape:
        raise SystemExit(f"{name}: output shape {probabilities.shape}, Digits gave {reference.shape}")
    agree = int((probabilities.argmax(axis=1) == reference.argmax(axis=1)).sum())
    return {
        "images": int(reference.shape[0]),
        "argmax_agree": agree,
        "max_abs_prob_diff": float(np.abs(probabilities.astype(np.float64) - reference.astype(np.float64)).max()),
        "rows_sum_to_one": bool(np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)),
    }


def run_onnx(path, images):
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    x = images.astype(np.float32)
    outputs = [session.run([out.name], {inp.name: x[i:i + 1000]})[0] for i in range(0, len(x), 1000)]
    return np.concatenate(outputs), {
        "opset": opset, "ir_version": model.ir_version, "input": inp.name, "input_shape": [str(d) for d in inp.shape],
        "input_type": inp.type, "output": out.name, "nodes": [n.op_type for n in model.graph.node],
    }


def h5_string(value):
    return value.decode("utf8") if hasattr(value, "decode") else str(value)


def conv2d(x, kernel, bias, strides, padding):
    kh, kw, _, filters = kernel.shape
    if padding == "same":
        if strides != (1, 1):
            raise SystemExit("numpy reference: padding 'same' with strides is not implemented")
        x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    elif padding != "valid":
        raise SystemExit(f"numpy reference: unknown padding {padding}")
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, OH, OW, C, KH, KW
    windows = windows[:, ::strides[0], ::strides[1]]
    return np.einsum("nhwcyx,yxcf->nhwf", windows, kernel, optimize=True) + bias


def max_pool(x, pool, strides, padding):
    if padding != "valid":
        raise SystemExit(f"numpy reference: pooling padding {padding} is not implemented")
    windows = np.lib.stride_tricks.sliding_window_view(x, tuple(pool), axis=(1, 2))
    return windows[:, ::strides[0], ::strides[1]].max(axis=(4, 5))


def activation(x, name):
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise SystemExit(f"numpy reference: unknown activation {name}")


def run_h5_numpy(path, images):
    import h5py

    with h5py.File(path, "r") as f:
        attrs = {k: h5_string(f.attrs[k]) for k in ("keras_version", "backend", "model_config")}
        config = json.loads(attrs["model_config"])
        weights_group = f["model_weights"]
        layer_names = [h5_string(n) for n in weights_group.attrs["layer_names"]]
        weights = {}
        for name in layer_names:
            g = weights_group[name]
            names = [h5_string(n) for n in g.attrs["weight_names"]]
            weights[name] = [np.asarray(g[n], dtype=np.float64) for n in names]
    if config["class_name"] != "Sequential":
        raise SystemExit(f"{path}: model_config is a {config['class_name']}, expected Sequential")
    layers = config["config"]["layers"]
    x = images.astype(np.float64)
    classes_seen = []
    for layer in layers:
        cls, c = layer["class_name"], layer["config"]
        classes_seen.append(cls)
        w = weights.get(c.get("name"), [])
        if cls == "InputLayer":
            want = c["batch_input_shape"][1:]
            if list(x.shape[1:]) != want:
                raise SystemExit(f"InputLayer expects {want}, images are {list(x.shape[1:])}")
            continue
        if cls != "InputLayer" and c["name"] not in layer_names:
            raise SystemExit(f"layer {c['name']} has no group in model_weights")
        if cls == "Rescaling":
            # Keras computes in float32: x * scale + offset.
            x = (x.astype(np.float32) * np.float32(c["scale"]) + np.float32(c["offset"])).astype(np.float64)
        elif cls == "Conv2D":
            if c["data_format"] != "channels_last" or c["dilation_rate"] != [1, 1] or c["groups"] != 1:
                raise SystemExit(f"numpy reference: unsupported Conv2D config {c}")
            kernel, bias = w
            if list(kernel.shape) != c["kernel_size"] + [x.shape[3], c["filters"]]:
                raise SystemExit(f"{c['name']}: kernel shape {kernel.shape} does not match config")
            x = activation(conv2d(x, kernel, bias, tuple(c["strides"]), c["padding"]), c["activation"])
        elif cls == "MaxPooling2D":
            x = max_pool(x, c["pool_size"], tuple(c["strides"]), c["padding"])
        elif cls == "ZeroPadding2D":
            (t, b), (l, r) = c["padding"]
            x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)  # C order over NHWC = Keras channels_last
        elif cls == "Reshape":
            x = x.reshape((x.shape[0],) + tuple(c["target_shape"]))
        elif cls == "Dropout":
            pass  # identity at inference
        elif cls == "Dense":
            kernel, bias = w
            if kernel.shape != (x.shape[1], c["units"]):
                raise SystemExit(f"{c['name']}: kernel shape {kernel.shape}, input has {x.shape[1]} features")
            x = activation(x @ kernel + bias, c["activation"])
        elif cls == "Activation":
            x = activation(x, c["activation"])
        else:
            raise SystemExit(f"numpy reference: unknown layer class {cls}")
        if cls not in ("Conv2D", "Dense") and w:
            raise SystemExit(f"layer {c['name']} ({cls}) unexpectedly has weights")
    return x, {"keras_version": attrs["keras_version"], "backend": attrs["backend"], "layers": classes_seen}


def run_keras(path, images):
    # Both must be set before keras (and jax) are imported. JAX_PLATFORMS=cpu: no probing for
    # accelerators this machine does not have.
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import keras

    model = keras.models.load_model(path, compile=False)
    out = model.predict(images.astype(np.float32), batch_size=1000, verbose=0)
    return np.asarray(out), {"keras": keras.__version__, "keras_backend": keras.backend.backend(),
                             "layers": [type(l).__name__ for l in model.layers]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--probabilities", required=True)
    ap.add_argument("--onnx")
    ap.add_argument("--h5")
    ap.add_argument("--keras", action="store_true")
    args = ap.parse_args()
    images = read_idx_images(args.images)
    reference = np.load(args.probabilities)
    if reference.shape[0] != images.shape[0]:
        raise SystemExit(f"{args.probabilities}: {reference.shape[0]} rows for {images.shape[0]} images")
    report = {}
    if args.onnx:
        p, info = run_onnx(args.onnx, images)
        report["onnx"] = {**compare("onnx", p, reference), **info}
    if args.h5:
        p, info = run_h5_numpy(args.h5, images)
        report["h5_numpy"] = {**compare("h5 numpy", p, reference), **info}
        if args.keras:
            p, info = run_keras(args.h5, images)
            report["keras"] = {**compare("keras", p, reference), **info}
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
