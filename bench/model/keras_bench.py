"""Times the tsad autoencoder architecture in Keras, for `tsad bench model`.

Reads one JSON object from argv[1]:
  {"configs": [{"name", "windowSize", "channels", "units", "codeSize"}], "inferenceBatch",
   "inferenceRepeats", "trainWindows", "batchSize", "trainEpochs", "seed"}
and prints one JSON object on stdout: per config, inference windows/s (predict
in a tf.function on batches of `inferenceBatch`) and the time of one
training epoch (model.fit over `trainWindows` windows, Adam, MSE), after warm-up: the median
of the repeats and the best one.
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def build(window, channels, units, code):
    # The same layers as src/model's autoencoder: LSTM encoder -> Dense code ->
    # RepeatVector -> LSTM decoder -> TimeDistributed Dense (linear).
    inputs = tf.keras.Input(shape=(window, channels))
    h = tf.keras.layers.LSTM(units)(inputs)
    z = tf.keras.layers.Dense(code, activation="tanh")(h)
    r = tf.keras.layers.RepeatVector(window)(z)
    d = tf.keras.layers.LSTM(units, return_sequences=True)(r)
    out = tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(channels))(d)
    model = tf.keras.Model(inputs, out)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3), loss="mse")
    return model


def bench_config(cfg, opts, rng):
    window, channels = cfg["windowSize"], cfg["channels"]
    model = build(window, channels, cfg["units"], cfg["codeSize"])
    batch = opts["inferenceBatch"]
    x = tf.constant(rng.standard_normal((batch, window, channels)).astype(np.float32))

    @tf.function
    def predict(t):
        return model(t, training=False)

    for _ in range(2):
        predict(x).numpy()
    times = []
    for _ in range(opts["inferenceRepeats"]):
        start = time.perf_counter()
        predict(x).numpy()
        times.append(time.perf_counter() - start)
    infer_s = statistics.median(times)
    infer_best = min(times)

    train = rng.standard_normal((opts["trainWindows"], window, channels)).astype(np.float32)
    model.fit(train, train, batch_size=opts["batchSize"], epochs=1, verbose=0, shuffle=False)
    epochs = []
    for _ in range(opts["trainEpochs"]):
        start = time.perf_counter()
        model.fit(train, train, batch_size=opts["batchSize"], epochs=1, verbose=0, shuffle=False)
        epochs.append(time.perf_counter() - start)
    return {
        "name": cfg["name"],
        "params": model.count_params(),
        "inferenceWindowsPerSec": batch / infer_s,
        "inferenceBatchMs": infer_s * 1000,
        "trainEpochMs": statistics.median(epochs) * 1000,
        "best": {
            "inferenceWindowsPerSec": batch / infer_best,
            "trainEpochMs": min(epochs) * 1000,
        },
    }


def main():
    opts = json.loads(sys.argv[1])
    rng = np.random.default_rng(opts.get("seed", 1))
    tf.random.set_seed(opts.get("seed", 1))
    results = [bench_config(cfg, opts, rng) for cfg in opts["configs"]]
    print(json.dumps({
        "tensorflowVersion": tf.__version__,
        "kerasVersion": tf.keras.__version__ if hasattr(tf.keras, "__version__") else None,
        "intraOpThreads": tf.config.threading.get_intra_op_parallelism_threads(),
        "results": results,
    }))


if __name__ == "__main__":
    main()
