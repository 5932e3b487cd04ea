"""Classification metrics from logits: top-1, top-5, loss, per-class accuracy,
confusion matrix. One accumulator for PyTorch evaluation, exported artifacts
(numpy logits) and the distributed trainer (``all_reduce`` of the sums)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


class ClassificationMeter:
    """Sums over batches; ``result()`` gives the figures (accuracies in percent,
    loss as mean cross-entropy in nats per image, without label smoothing)."""

    def __init__(self, num_classes: int, device: torch.device | str = "cpu") -> None:
        self.num_classes = num_classes
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
        self.sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss_sum, top5_correct

    def update(self, logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> None:
        logits = torch.as_tensor(logits).to(self.confusion.device).float()
        labels = torch.as_tensor(labels).to(self.confusion.device).long()
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            from edgecnn.errors import InvalidOptionError

            raise InvalidOptionError(f"the model gives {tuple(logits.shape[1:])} outputs per image; "
                                     f"the dataset has {self.num_classes} classes")
        loss = F.cross_entropy(logits, labels, reduction="sum")
        k = min(5, self.num_classes)
        top5 = (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum()
        pred = logits.argmax(dim=1)
        self.confusion.view(-1).index_add_(0, labels * self.num_classes + pred,
                                           torch.ones_like(labels, dtype=torch.int64))
        self.sums += torch.stack([loss.double(), top5.double()])

    def all_reduce(self) -> None:
        """Sum the counts over all ranks (call on every rank)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.confusion)
            dist.all_reduce(self.sums)

    @property
    def n(self) -> int:
        return int(self.confusion.sum().item())

    def result(self) -> dict[str, Any]:
        conf = self.confusion.cpu()
        n = max(1, int(conf.sum()))
        per_class_n = conf.sum(dim=1).clamp(min=1)
        sums = self.sums.cpu()
        return {
            "top1": 100.0 * float(conf.diag().sum()) / n,
            "top5": 100.0 * float(sums[1]) / n,
            "loss": float(sums[0]) / n,
            "n_images": int(conf.sum()),
            "per_class_top1": [round(100.0 * float(c), 4) for c in conf.diag() / per_class_n],
            "confusion": conf.tolist(),
        }


@torch.no_grad()
def evaluate_model(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, preprocess,
                   num_classes: int, batch_size: int = 1024, amp_dtype: torch.dtype | None = None,
                   indices: torch.Tensor | None = None, tta_flip: bool = False) -> ClassificationMeter:
    """Run ``model`` over uint8 NCHW ``images`` (on the model's device) in batches;
    ``preprocess(uint8 batch) -> float batch`` does resize/normalise. Returns the
    meter (not reduced across ranks). ``indices`` restricts to a shard.
    ``tta_flip``: the logits are the mean of the image's and its horizontal
    mirror's (test-time augmentation; two forward passes per image)."""
    was_training = model.training
    model.eval()
    meter = ClassificationMeter(num_classes, images.device)
    idx = indices if indices is not None else torch.arange(images.shape[0], device=images.device)
    for start in range(0, idx.numel(), batch_size):
        sel = idx[start:start + batch_size]
        x = preprocess(images[sel])
        with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(x).float()
            if tta_flip:
                logits = 0.5 * (logits + model(x.flip(-1)).float())
        meter.update(logits, labels[sel])
    model.train(was_training)
    return meter
