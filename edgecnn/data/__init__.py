"""Datasets as cached uint8 arrays (CIFAR-10/100, ImageFolder folders and archives)."""

from edgecnn.data.datasets import (
    DATASETS,
    ArrayDataset,
    DataError,
    default_cifar10_source,
    load_dataset,
    to_tensor,
)

__all__ = ["DATASETS", "ArrayDataset", "DataError", "default_cifar10_source", "load_dataset", "to_tensor"]
