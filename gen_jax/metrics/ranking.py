"""Rank statistics of scores: the area under the ROC curve (numpy, exact, ties averaged)."""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
  """1-based ranks of `values` [N]; tied values all get the mean of the ranks they span."""
  values = np.asarray(values, np.float64).ravel()
  order = np.argsort(values, kind="mergesort")
  _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
  # a tie group occupying sorted positions first..first+count-1 has ranks first+1..first+count
  group_rank = first + (counts + 1) / 2.0
  ranks = np.empty(len(values), np.float64)
  ranks[order] = np.repeat(group_rank, counts)
  return ranks


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
  """P(score of a positive > score of a negative) + 1/2 P(tie): the Mann-Whitney form of AUROC,

    AUROC = (R₊ - n₊(n₊+1)/2) / (n₊ n₋),

  with R₊ the sum of the positives' average ranks among all N scores. 1 means every positive
  scores above every negative, 0.5 is chance. `positive` is a boolean (or 0/1) array [N].
  """
  scores = np.asarray(scores, np.float64).ravel()
  positive = np.asarray(positive).astype(bool).ravel()
  if scores.shape != positive.shape:
    raise ValueError(f"scores {scores.shape} and positive {positive.shape} must have the same length")
  n_pos = int(positive.sum())
  n_neg = len(positive) - n_pos
  if n_pos == 0 or n_neg == 0:
    raise ValueError(f"AUROC needs both classes; got {n_pos} positives and {n_neg} negatives")
  if not np.all(np.isfinite(scores)):
    raise ValueError("AUROC scores must be finite")
  rank_sum = average_ranks(scores)[positive].sum()
  return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
