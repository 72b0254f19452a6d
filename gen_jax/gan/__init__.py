"""GANs: the losses of the game (`losses`), the two networks (`nets`), codes and noise (`codes`)."""
