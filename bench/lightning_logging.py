"""Lightning: steps/s of an epoch of a small CNN that logs 4 images a step through DarkroomLogger, vs logging nothing.

The issue's bar: >= 90% of the steps per second of the same loop logging
nothing, on this 2-core machine.  The model is a small CNN on 3x64x64
batches of 32 (random tensors); the logging variant adds ``self.log("loss")``
and ``logger.log_image("samples", 4 images of the batch)`` every step, with
conversions in the embedded workers.  Epochs alternate (plain, logging, ...);
each is timed from its first batch to its last by a callback, and the ratio
uses medians.  torch runs on one thread (--torch-threads 1): the second core
is the embedded worker's, as in bench/embedded_slowdown.py.

The machine's load average is printed last: on a shared machine other
processes take the cores the embedded workers need, and the ratio with them.
CPU per step is printed too (the training process, all its threads; the
embedded workers), which other processes' load moves far less.

Usage: python bench/lightning_logging.py [--steps 60] [--rounds 5] [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()

    import lightning
    import torch

    from darkroom.integration.lightning import DarkroomLogger

    torch.set_num_threads(args.torch_threads)
    samples = args.steps * 32
    data = torch.utils.data.TensorDataset(torch.rand(samples, 3, 64, 64), torch.randint(0, 10, (samples,)))
    loader = torch.utils.data.DataLoader(data, batch_size=32)

    class Timer(lightning.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == 0:
                self.start = time.perf_counter()
                self.cpu = time.process_time(), children_cpu()

        def on_train_epoch_end(self, trainer, module):
            steps = trainer.num_training_batches - 1
            self.rate = steps / (time.perf_counter() - self.start)
            self.own_cpu = (time.process_time() - self.cpu[0]) / steps
            self.workers_cpu = (children_cpu() - self.cpu[1]) / steps

    class SmallCNN(lightning.LightningModule):
        def __init__(self, log_images: bool):
            super().__init__()
            self.log_images = log_images
            self.net = torch.nn.Sequential(
                torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Flatten(), torch.nn.Linear(32 * 16 * 16, 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            if self.log_images:
                self.log("loss", loss)
                self.logger.log_image("samples", list(x[:4]), step=self.global_step)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for log_images in (False, True):
            logger = DarkroomLogger(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data") \
                if log_images else False
            timer = Timer()
            trainer = lightning.Trainer(max_epochs=1, logger=logger, callbacks=[timer], accelerator="cpu",
                                        enable_progress_bar=False, enable_model_summary=False,
                                        enable_checkpointing=False, log_every_n_steps=1,
                                        default_root_dir=f"{tmp}/root")
            trainer.fit(SmallCNN(log_images), loader)
            rates[log_images].append(timer.rate)
            cpu[log_images].append((timer.own_cpu, timer.workers_cpu))
            if log_images:
                report = logger.experiment.finish(quiet=True)
                assert report.converted == 4 * args.steps and not report.failed, report
            print(f"round {round_}: {'4 images a step' if log_images else 'logging nothing'}: "
                  f"{timer.rate:6.2f} steps/s", flush=True)

    plain, logging = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"median steps/s: logging nothing {plain:.2f}, logging 4 images a step {logging:.2f}")
    print(f"ratio = {logging / plain:.3f} (bar: >= 0.90)")
    # CPU per step varies far less with other processes' load than steps/s does.
    own = {k: statistics.median(c[0] for c in v) for k, v in cpu.items()}
    workers = statistics.median(c[1] for c in cpu[True])
    print(f"CPU per step (medians): logging nothing {own[False] * 1e3:.1f} ms; logging {own[True] * 1e3:.1f} ms "
          f"in the training process + {workers * 1e3:.1f} ms in the embedded workers; "
          f"training-process CPU ratio {own[False] / own[True]:.3f}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")


def children_cpu() -> float:
    """CPU seconds of this process's child processes now alive (the embedded workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                children = f.read().split()
        except OSError:
            continue
        for pid in children:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


if __name__ == "__main__":
    main()
