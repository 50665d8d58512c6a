"""Datasets: deterministic splits, cached real faces, and on-the-fly training forgeries."""
