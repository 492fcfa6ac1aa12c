"""Datasets: decoded uint8 arrays (:mod:`.types`), the readers that produce them and their cache.

>>> from sure_unlearn.data import load_dataset
>>> load_dataset("digits").train.x.shape
(1437, 8, 8, 1)
"""

# importing the reader modules registers their datasets in DATASETS
from sure_unlearn.data import readers_folders, readers_tiny  # noqa: F401
from sure_unlearn.data.cache import default_cache_dir, load_or_decode
from sure_unlearn.data.readers import DATASETS, Reader, data_roots, find_source, load_dataset
from sure_unlearn.data.types import (
    NO_AUGMENT,
    Augment,
    DatasetBundle,
    ImageArrays,
    LabeledData,
    augment_batch,
)

__all__ = [
    "DATASETS",
    "NO_AUGMENT",
    "Augment",
    "DatasetBundle",
    "ImageArrays",
    "LabeledData",
    "Reader",
    "augment_batch",
    "data_roots",
    "default_cache_dir",
    "find_source",
    "load_dataset",
    "load_or_decode",
]
