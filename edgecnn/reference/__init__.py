"""The GPU reference run (``scripts/gpu_reference.py``): one prepared command
that, on a lent GPU machine, predicts the default models' latency from the
device TOML, trains the reference CIFAR-10 models against time budgets,
times the default models and the separable sweep, and packs records and
fp16 checkpoints into a few files small enough to bring back.

``--smoke`` runs the same functions on the CPU in about a minute; the
default test suite runs it, so the GPU run cannot die of a bug the CPU can
catch. Modules: ``config`` (what runs, full and smoke), ``predict``,
``latency``, ``training``, ``pack``, ``run`` (phases, guards, summary).

Only torch, torchvision, numpy, pillow, rich and typer are needed (what the
GPU machine has); nothing here imports onnx, plotly, jinja2, fvcore or litert.
"""
