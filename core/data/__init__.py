"""Competition data: pixel files, images, archives, the demo competition and competition folders."""
