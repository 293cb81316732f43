"""Sub-commands of ``mgi``: one module per stage, each with ``register(subparsers)``."""
