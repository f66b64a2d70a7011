"""Build an IVF index from a knowledge base's own vectors: sizes, training, and deletions.

IVF-Flat keeps exact vectors in inverted lists, so removing a file is `remove_ids` (no
tombstones) and a chunk's vector can still be read back (a hashtable direct map, which removes
by explicit id arrays only). Lists grow with sqrt(n); a query scans a fixed share of them.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from vectorstore.settings import VectorIndexSettings

# Below ~39 training points per list faiss's k-means complains and clusters poorly.
MIN_POINTS_PER_LIST = 40


def list_count(n: int, settings: VectorIndexSettings) -> int:
    wanted = int(settings.nlist_per_sqrt * math.sqrt(max(n, 1)))
    return max(1, min(wanted, n // MIN_POINTS_PER_LIST))


def probe_count(nlist: int, settings: VectorIndexSettings) -> int:
    return max(1, min(nlist, max(settings.min_nprobe, round(settings.nprobe_share * nlist))))


def build_ivf(ids: np.ndarray, vectors: np.ndarray, settings: VectorIndexSettings, seed: int = 0) -> faiss.IndexIVFFlat:
    """Train on a sample of `vectors`, then add them all under their `ids`."""
    n, dim = vectors.shape
    nlist = list_count(n, settings)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample_size = min(n, max(settings.train_sample, MIN_POINTS_PER_LIST * nlist))
    rng = np.random.default_rng(seed)
    sample = vectors if sample_size == n else vectors[np.sort(rng.choice(n, sample_size, replace=False))]
    index.cp.seed = seed
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    index.nprobe = probe_count(nlist, settings)
    if n:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    return index


def remove(index: faiss.Index, ids: np.ndarray) -> None:
    """Remove exactly these ids (missing ones are ignored)."""
    if len(ids):
        array = np.ascontiguousarray(ids, dtype=np.int64)
        index.remove_ids(faiss.IDSelectorArray(len(array), faiss.swig_ptr(array)))
