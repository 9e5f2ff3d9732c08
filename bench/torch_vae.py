#!/usr/bin/python3
"""The reference VAE in PyTorch, for side-by-side comparisons with aetrain.

The model and setting of configs/vae.json (PyTorch's classic VAE example):
784-400-20 encoder (ReLU), 20-400-784 decoder, Bernoulli likelihood from
logits, Adam lr 1e-3, batch 128, pixels scaled to [0, 1].  Losses are nats per
example (summed over pixels and latent dimensions, averaged over examples),
the test loss with z sampled, as aetrain reports them.

With --bf16 the forward passes (training and test) run under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's mixed precision: the
Linear layers' GEMMs take bf16 inputs, the losses are computed in float32
from the float32 copies of the outputs, weights and Adam stay float32.

usage: /usr/bin/python3 bench/torch_vae.py [--epochs N] [--threads N]
           [--init torch|he] [--seed N] [--mnist DIR] [--train-limit N] [--no-test]
           [--bf16]
Prints one line per epoch: epoch, train loss, test loss, seconds.
Exits 3 with a message when torch is not installed.
"""
import argparse
import gzip
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as e:  # pragma: no cover
    print(f"torch_vae.py: skipped: {e} (install python3-torch)", file=sys.stderr)
    sys.exit(3)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and kind == 8, f"{path}: not a uint8 IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class VAE(nn.Module):
    def __init__(self, d=784, h=400, z=20, init="torch"):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(d, h), nn.Linear(h, z), nn.Linear(h, z)
        self.fc3, self.fc4 = nn.Linear(z, h), nn.Linear(h, d)
        if init == "he":  # aetrain's rule: He-uniform before ReLU, Glorot-uniform otherwise
            for layer, relu in ((self.fc1, True), (self.fc21, False), (self.fc22, False),
                                (self.fc3, True), (self.fc4, False)):
                if relu:
                    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                else:
                    nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def loss_terms(logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon, kl


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", choices=["torch", "he"], default="torch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--mnist", default=os.path.join(here, "..", "data", "mnist"))
    ap.add_argument("--no-test", action="store_true", help="skip the test-set evaluation")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (mixed precision)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xtr = read_idx(os.path.join(a.mnist, "train-images-idx3-ubyte.gz")).reshape(-1, 784)
    xte = read_idx(os.path.join(a.mnist, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784)
    if a.train_limit:
        xtr = xtr[:a.train_limit]
    xtr = torch.from_numpy(xtr.astype(np.float32) / 255.0)
    xte = torch.from_numpy(xte.astype(np.float32) / 255.0)
    model = VAE(init=a.init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, init {a.init}, "
          f"{'bf16 autocast' if a.bf16 else 'fp32'}", flush=True)
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), a.batch):
            x = xtr[perm[i:i + a.batch]]
            with autocast():
                logits, mu, logvar = model(x)
            recon, kl = loss_terms(logits.float(), x, mu.float(), logvar.float())
            loss = (recon + kl) / len(x)  # mean over the batch, as aetrain
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        seconds = time.perf_counter() - t0
        if a.no_test:
            print(f"epoch {epoch} train {total / len(xtr):.4f} seconds {seconds:.3f}", flush=True)
            continue
        model.eval()
        with torch.no_grad():
            test = 0.0
            for i in range(0, len(xte), 1000):
                x = xte[i:i + 1000]
                with autocast():
                    logits, mu, logvar = model(x)
                recon, kl = loss_terms(logits.float(), x, mu.float(), logvar.float())
                test += (recon + kl).item()
        print(f"epoch {epoch} train {total / len(xtr):.4f} test {test / len(xte):.4f} "
              f"seconds {seconds:.3f}", flush=True)


if __name__ == "__main__":
    main()
