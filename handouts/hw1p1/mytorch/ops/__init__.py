"""The ops, one module per family. Nothing is imported here on purpose: Tensor's methods import
each module when first used, so a mistake in one file does not stop the others from working."""
