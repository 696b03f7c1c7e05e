#!/usr/bin/env python3
"""TensorFlow/Keras reference benchmark for Digits.

Trains the two reference CNNs on real MNIST, read directly from the gzipped IDX
files (no dataset download), with TensorFlow's CPU thread pools pinned to
--threads. Run it with the virtualenv made by scripts/bench/setup-tf.sh:

    "${DIGITS_TF_VENV:-$HOME/.cache/digits/venv-tf}/bin/python" \
        scripts/bench/keras_reference.py --mode throughput --model keras-example --threads 2

Modes
  throughput  warm up, then time --steps training steps (model.fit over a cached,
              repeating tf.data pipeline of a fixed slice of the training set,
              steps_per_epoch=--steps); reports images/s.
  accuracy    full training (10% validation split, shuffled), test accuracy after
              every epoch, wall time since process start, first epoch >= 99.0%.

The last line on stdout is one JSON object; progress goes to stderr.

FLOP convention (same as the Swift side): training = 3 x forward multiply-adds x 2,
counting conv and dense layers only: keras-example ~14.6 MFLOP per image,
pytorch-example ~71.9 MFLOP per image.
"""

import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time


def process_start_time():
    """Wall-clock time at which this process started (Linux /proc), else now."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        start_ticks = int(fields[19])  # field 22 (starttime), counting from 1 with pid and comm
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


T0 = process_start_time()

MODELS = {
    # name: expected parameter count
    "keras-example": 34_826,
    "pytorch-example": 1_199_882,
}

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "data", "mnist"))


def rss_mb():
    """Current resident set size in MB (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def log(msg):
    print(f"[keras_reference {time.time() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["throughput", "accuracy"], required=True)
    p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (inter-op is 1)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200, help="timed steps (throughput)")
    p.add_argument("--slice", type=int, default=60000,
                   help="training images cycled through in throughput mode (default: all)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps (throughput)")
    p.add_argument("--repeats", type=int, default=1,
                   help="timed runs of --steps each (throughput); the best is reported, all are listed")
    p.add_argument("--epochs", type=int, default=10, help="epochs (accuracy)")
    p.add_argument("--data", default=DEFAULT_DATA, help=f"directory with the MNIST *.gz IDX files (default {DEFAULT_DATA})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps-per-execution", type=int, default=1,
                   help="Keras steps_per_execution (train steps per tf.function call)")
    p.add_argument("--jit", choices=["off", "on", "auto"], default="off",
                   help="Keras jit_compile (XLA); off by default")
    a = p.parse_args(argv)
    if a.threads < 1 or a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.epochs < 1 or a.repeats < 1:
        p.error("--threads, --batch, --steps, --epochs and --repeats must be >= 1, --warmup >= 0")
    return a


# ---------------------------------------------------------------- MNIST (IDX)

def read_idx(path):
    """Parses a gzipped (or plain) IDX file into a numpy array."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    expected = 1
    for d in dims:
        expected *= d
    if arr.size != expected:
        raise ValueError(f"{path}: {arr.size} elements, header says {dims}")
    return arr.reshape(dims)


def load_mnist(directory):
    import numpy as np

    def find(stem):
        for name in (stem + ".gz", stem):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                return path
        raise FileNotFoundError(f"{stem}[.gz] not found in {directory} (use --data)")

    def images(stem):
        x = read_idx(find(stem))
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{stem}: unexpected image shape {x.shape}")
        return (x.astype(np.float32) / 255.0)[..., None]  # NHWC, channels_last

    def labels(stem):
        y = read_idx(find(stem)).astype(np.int64)
        if y.ndim != 1 or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{stem}: bad labels")
        return y

    xtr, ytr = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    xte, yte = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise ValueError("image/label counts differ")
    return xtr, ytr, xte, yte


def one_hot(y):
    import numpy as np
    out = np.zeros((len(y), 10), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


# ---------------------------------------------------------------- models

def build_model(keras, name):
    L = keras.layers
    if name == "keras-example":
        layers = [
            L.Conv2D(32, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    elif name == "pytorch-example":
        layers = [
            L.Conv2D(32, (3, 3), activation="relu"),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Dropout(0.25),
            L.Flatten(),
            L.Dense(128, activation="relu"),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    else:
        raise ValueError(name)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1))] + layers, name=name.replace("-", "_"))
    params = model.count_params()
    if params != MODELS[name]:
        raise AssertionError(f"{name}: {params} parameters, expected {MODELS[name]}")
    return model


def training_flops_per_image(model):
    """3 x 2 x forward multiply-adds of Conv2D and Dense layers."""
    macs = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            macs += h * w * c_out * kh * kw * c_in
        elif kind == "Dense":
            macs += layer.input.shape[-1] * layer.units
    return 3 * 2 * macs


# ---------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t = str(args.threads)
    # Must be in the environment before TensorFlow (and its Eigen/oneDNN pools) load.
    os.environ["OMP_NUM_THREADS"] = t
    os.environ["TF_NUM_INTRAOP_THREADS"] = t
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")

    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    rss_import = rss_mb()
    if keras.backend.backend() != "tensorflow":
        raise SystemExit(f"KERAS_BACKEND must be tensorflow, got {keras.backend.backend()}")
    keras.utils.set_random_seed(args.seed)

    t_load = time.time()
    xtr, ytr, xte, yte = load_mnist(args.data)
    log(f"MNIST: {len(xtr)} train, {len(xte)} test images from {args.data} in {time.time() - t_load:.2f}s")
    ytr1, yte1 = one_hot(ytr), one_hot(yte)
    rss_data = rss_mb()

    model = build_model(keras, args.model)
    flops = training_flops_per_image(model)
    jit = {"off": False, "on": True, "auto": "auto"}[args.jit]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"] if args.mode == "accuracy" else None,
        steps_per_execution=args.steps_per_execution,
        jit_compile=jit,
    )

    result = {
        "framework": "tensorflow",
        "tf_version": tf.__version__,
        "keras_version": keras.__version__,
        "model": args.model,
        "mode": args.mode,
        "threads": args.threads,
        "batch": args.batch,
        "params": model.count_params(),
        "flops_per_image": flops,
        "steps_per_execution": args.steps_per_execution,
        "jit_compile": args.jit,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "rss_after_import_mb": rss_import,
        "rss_after_data_mb": rss_data,
    }

    if args.mode == "throughput":
        # A fixed slice of the training set, pre-batched in memory and repeated: each step
        # only dequeues a prefetched (batch, 28, 28, 1) tensor, no per-step host work.
        nb = min(args.slice, len(xtr)) // args.batch
        if nb < 1:
            raise SystemExit("--slice must hold at least one batch")
        xb = xtr[:nb * args.batch].reshape(nb, args.batch, 28, 28, 1)
        yb = ytr1[:nb * args.batch].reshape(nb, args.batch, 10)
        ds = tf.data.Dataset.from_tensor_slices((xb, yb)).repeat().prefetch(tf.data.AUTOTUNE)
        opts = tf.data.Options()
        opts.threading.private_threadpool_size = args.threads
        ds = ds.with_options(opts)
        spe = args.steps_per_execution
        warm = max(args.warmup, spe)
        warm = (warm + spe - 1) // spe * spe
        steps = (args.steps + spe - 1) // spe * spe
        tw = time.time()
        model.fit(ds, epochs=1, steps_per_epoch=warm, shuffle=False, verbose=0)
        log(f"warm-up {warm} steps (incl. tracing) {time.time() - tw:.2f}s")
        runs = []
        for r in range(args.repeats):
            ts = time.perf_counter()
            hist = model.fit(ds, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
            dt = time.perf_counter() - ts
            ips = steps * args.batch / dt
            runs.append(round(ips, 1))
            log(f"run {r + 1}/{args.repeats}: {steps} steps in {dt:.3f}s = {ips:.0f} images/s, "
                f"{ips * flops / 1e9:.1f} GFLOP/s, loss {hist.history['loss'][-1]:.4f}")
        best = max(runs)
        result.update({
            "steps": steps,
            "warmup_steps": warm,
            "slice_images": nb * args.batch,
            "images_per_second": best,
            "images_per_second_runs": runs,
            "gflops": round(best * flops / 1e9, 2),
        })
    else:
        per_epoch = []

        class TestEval(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                _, acc = self.model.evaluate(xte, yte1, batch_size=1000, verbose=0)
                now = time.time() - T0
                logs = logs or {}
                row = {
                    "epoch": epoch + 1,
                    "test_accuracy": round(float(acc), 5),
                    "seconds_since_start": round(now, 2),
                    "train_loss": round(float(logs.get("loss", float("nan"))), 5),
                    "val_accuracy": round(float(logs.get("val_accuracy", float("nan"))), 5),
                }
                per_epoch.append(row)
                log(f"epoch {row['epoch']}: test {row['test_accuracy']:.4f} val {row['val_accuracy']:.4f} "
                    f"loss {row['train_loss']:.4f} at {now:.1f}s")

        t_fit = time.time()
        model.fit(xtr, ytr1, batch_size=args.batch, epochs=args.epochs, validation_split=0.1,
                  shuffle=True, verbose=0, callbacks=[TestEval()])
        fit_s = time.time() - t_fit
        hit = next((r for r in per_epoch if r["test_accuracy"] >= 0.99), None)
        n_train = len(xtr) - int(len(xtr) * 0.1)
        result.update({
            "epochs": args.epochs,
            "train_images": n_train,
            "per_epoch": per_epoch,
            "epoch_to_99": hit["epoch"] if hit else None,
            "seconds_to_99": hit["seconds_since_start"] if hit else None,
            "final_test_accuracy": per_epoch[-1]["test_accuracy"],
            "fit_seconds": round(fit_s, 2),
            # Training images over fit() wall time, which includes validation and the
            # per-epoch test evaluation: not comparable with throughput mode.
            "epoch_images_per_second": round(args.epochs * n_train / fit_s, 1),
        })

    result["seconds_total"] = round(time.time() - T0, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
