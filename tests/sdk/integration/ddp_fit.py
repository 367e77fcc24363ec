"""A 2-process DDP fit on CPU with DarkroomLogger, for test_lightning_ddp.py: python ddp_fit.py ROOT.

Lightning's subprocess launcher runs this file again for rank 1.  Each rank
prints what its logger holds; rank 0 finishes the run and prints its path.
"""

from __future__ import annotations

import sys

import lightning
import numpy as np
import torch

from darkroom.integration.lightning import DarkroomLogger


class Regression(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        self.logger.log_image("samples", [np.full((4, 4), 10 * self.global_rank + 1, np.uint8)],
                              step=self.global_step, caption=[f"rank {self.global_rank}"])
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def main(root: str) -> None:
    generator = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4, generator=generator),
                                          torch.randn(32, 1, generator=generator))
    loader = torch.utils.data.DataLoader(data, batch_size=4)  # 8 batches, 4 per rank
    logger = DarkroomLogger(project="ddp")
    trainer = lightning.Trainer(max_epochs=1, logger=logger, strategy="ddp", devices=2, accelerator="cpu",
                                log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                                enable_checkpointing=False, default_root_dir=root)
    trainer.fit(Regression(), loader)
    print(f"<rank {trainer.global_rank}: mode {logger.experiment.mode}>", flush=True)
    if trainer.global_rank == 0:
        logger.experiment.finish(quiet=True)
        print(f"<run {logger.experiment.path}>", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
