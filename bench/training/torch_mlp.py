#!/usr/bin/python3
"""PyTorch side of the training-throughput benchmark (Debian python3-torch 1.13.1, CPU).

  torch_mlp.py write <data.bin> <train rows> <validation rows> <features> <classes>   seeded synthetic data, standardized
  torch_mlp.py train <data.bin> <features> <classes> <hidden> <batch> <epochs>         prints one JSON line

The loop is the one the trainer runs: AdamW (lr 3e-3, no weight decay), a fresh random permutation per epoch, mini-batches by
index_select, loss.item() per batch, a validation forward pass per epoch; one thread; the first epoch is warm-up.
"""
import json
import struct
import sys
import time

import numpy as np
import torch


def write(path, train_rows, validation_rows, features, classes):
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 0.5, size=(classes, features))
    with open(path, "wb") as f:
        f.write(struct.pack("<ii", train_rows, validation_rows))
        for rows in (train_rows, validation_rows):
            labels = rng.integers(0, classes, size=rows)
            x = centres[labels] + rng.normal(0, 1.5, size=(rows, features))
            x = (x - x.mean(axis=0)) / x.std(axis=0)
            block = np.hstack([x, labels[:, None]]).astype("<f4")
            f.write(block.tobytes())


def read(path, features):
    with open(path, "rb") as f:
        train_rows, validation_rows = struct.unpack("<ii", f.read(8))
        data = np.frombuffer(f.read(), dtype="<f4").reshape(-1, features + 1)
    train, validation = data[:train_rows], data[train_rows:train_rows + validation_rows]
    return (torch.tensor(train[:, :-1]), torch.tensor(train[:, -1]).long(),
            torch.tensor(validation[:, :-1]), torch.tensor(validation[:, -1]).long())


def train(path, features, classes, hidden, batch, epochs):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    x, y, xv, yv = read(path, features)
    layers, width = [], features
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0)
    loss_fn = torch.nn.functional.cross_entropy
    start = None
    for epoch in range(epochs + 1):
        if epoch == 1:
            start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x))
        running = 0.0
        for i in range(0, len(x), batch):
            index = order[i:i + batch]
            loss = loss_fn(model(x.index_select(0, index)), y.index_select(0, index))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        model.eval()
        with torch.no_grad():
            loss_fn(model(xv), yv).item()
    seconds = time.perf_counter() - start
    print(json.dumps({"trainer": f"PyTorch {torch.__version__}", "samplesPerSecond": round(len(x) * epochs / seconds),
                      "seconds": round(seconds, 3), "epochs": epochs, "finalTrainLoss": round(running / ((len(x) + batch - 1) // batch), 4)}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], *map(int, sys.argv[3:7]))
    elif sys.argv[1] == "train":
        train(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), [int(h) for h in sys.argv[5].split(",")], int(sys.argv[6]), int(sys.argv[7]))
    else:
        sys.exit(__doc__)
