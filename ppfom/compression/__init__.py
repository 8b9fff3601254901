"""Compression of FOM: distilling mobile students from the full model, and pruning them."""
