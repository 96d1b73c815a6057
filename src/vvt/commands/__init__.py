"""Sub-commands of the ``vvt`` CLI: each module has ``add_arguments(parser)`` and ``run(args)``.

Keep module-level imports light (argparse, pathlib); import torch and friends inside ``run``.
"""
