#!/usr/bin/env python3
"""sklearn reference for benches/probe.rs: times SVC() fit + predict on the bench's data.

    python3 bench/svc_reference.py FILE

FILE (written by the Rust bench, little-endian): u32 n_train, u32 n_test, u32 n_features,
f32 train_x[n_train * n_features], u32 train_y[n_train], f32 test_x[n_test * n_features],
u32 test_y[n_test]. Writes sklearn's test predictions to FILE.sklearn_pred (u32 each) and
prints one JSON line: fit_seconds, predict_seconds, accuracy, n_support, sklearn_version.
"""

import json
import sys
import time

import numpy as np
import sklearn
from sklearn.svm import SVC


def main(path):
    raw = open(path, "rb").read()
    n_train, n_test, n_features = np.frombuffer(raw, "<u4", 3)
    offset = 12

    def take(dtype, count):
        nonlocal offset
        out = np.frombuffer(raw, dtype, int(count), offset)
        offset += out.nbytes
        return out

    train_x = take("<f4", n_train * n_features).reshape(n_train, n_features)
    train_y = take("<u4", n_train)
    test_x = take("<f4", n_test * n_features).reshape(n_test, n_features)
    test_y = take("<u4", n_test)

    start = time.perf_counter()
    svc = SVC().fit(train_x, train_y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pred = svc.predict(test_x)
    predict_seconds = time.perf_counter() - start

    pred.astype("<u4").tofile(path + ".sklearn_pred")
    print(json.dumps({
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "accuracy": float((pred == test_y).mean()),
        "n_support": int(svc.n_support_.sum()),
        "sklearn_version": sklearn.__version__,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
