"""The generation core: one module per backend (``classical``, ``blur2vid``, ``video``)."""
