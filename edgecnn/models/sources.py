"""Model sources: wherever a command takes a model name, it also takes a file,
a Python factory or a timm name, and the Python API an ``nn.Module``.

``resolve_source(spec)`` turns what the user gave into one ``ModelSource`` that
knows its stable id (the name records carry), its input shape (from the file,
or ``input_size`` where the file's is dynamic), its preprocessing (from
edgecnn's metadata beside the file, else ``mean``/``std`` given, else
ImageNet's, with a warning), its class count, and what it can be turned into:

| spec | kind | id | runs on |
|---|---|---|---|
| a zoo name (``mobilenet_v2``) | ``zoo`` | the name | everything (a PyTorch module) |
| ``timm:<name>`` | ``timm`` | ``timm:<name>`` | everything; the ``[timm]`` extra; architecture only, no download |
| ``package.module:callable`` or ``...:callable(key=value, ...)`` | ``factory`` | the spec | everything |
| ``.pt2`` (``torch.export`` ExportedProgram) | ``exported_program`` | ``<stem>-<sha8>`` | everything |
| ``.pt`` / ``.ts`` TorchScript | ``torchscript`` | ``<stem>-<sha8>`` | everything |
| ``.onnx`` | ``onnx`` | ``<stem>-<sha8>`` | runtimes that take ONNX |
| ``.tflite`` | ``tflite`` | ``<stem>-<sha8>`` | LiteRT |
| an ``nn.Module`` (Python API) | ``module`` | its class name, or ``name=`` | everything |

An edgecnn checkpoint (``.pt`` written by ``edgecnn train``) is not a model
source: it holds weights for a zoo model (``--checkpoint``). Bad input (a file
that is not a model, a truncated file, a dynamic spatial size without
``input_size``, a factory that does not import or returns no module, ``timm:``
without timm, an unknown timm name) is one ``EdgeCNNError`` line.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from edgecnn.errors import CorruptFileError, InvalidOptionError, MissingDependencyError
from edgecnn.models._registry import IMAGENET_MEAN, IMAGENET_STD, ModelCard

PYTORCH_KINDS = ("zoo", "timm", "factory", "exported_program", "torchscript", "module")
FILE_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite", ".pt2": "exported_program", ".pt": "torchscript",
                 ".ts": "torchscript", ".pth": "torchscript"}
LABELS = {"zoo": "edgecnn zoo", "timm": "timm", "factory": "Python factory", "exported_program": "PyTorch .pt2 file",
          "torchscript": "TorchScript file", "onnx": "ONNX file", "tflite": "TFLite file", "module": "nn.Module"}
_FACTORY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*)(?:\((?P<args>.*)\))?$", re.S)


@dataclass
class ModelSource:
    """One model, wherever it came from (see the module doc)."""

    spec: str
    kind: str
    id: str
    input_shape: list[int]  # one sample: [C, H, W]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    norm_from: str  # metadata | card | pretrained_cfg | given | imagenet default
    num_classes: Optional[int] = None
    path: Optional[Path] = None
    classes: Optional[list[str]] = None
    dataset: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    _build: Optional[Callable[[], Any]] = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """What the report and records say the model came from."""
        return LABELS[self.kind]

    @property
    def article(self) -> str:
        return "an" if self.label[0] in "AEIOUaeiou" else "a"

    @property
    def is_pytorch(self) -> bool:
        return self.kind in PYTORCH_KINDS

    @property
    def input_size(self) -> int:
        return int(self.input_shape[-1])

    def module(self) -> Any:
        """The ``nn.Module`` (eval mode), with ``edgecnn_card`` / ``edgecnn_config``
        attached as zoo models have them; files that are not PyTorch have none."""
        if not self.is_pytorch or self._build is None:
            raise InvalidOptionError(f"{self.spec} is {self.article} {self.label}, not a "
                                     f"PyTorch model: it runs as it is, on the runtimes that take it")
        model = self._build()
        if getattr(model, "edgecnn_card", None) is None or self.kind != "zoo":
            model.edgecnn_card = self.card()  # type: ignore[attr-defined]
            model.edgecnn_config = {"name": self.id, "num_classes": self.num_classes,  # type: ignore[attr-defined]
                                    "input_size": self.input_size, "model_source": self.label,
                                    "model_spec": self.spec}
        return _eval(model)

    def card(self) -> ModelCard:
        """A model card for a model outside the zoo: its input size, class count
        and normalisation (no reference figures: nothing was published for it)."""
        return ModelCard(name=self.id, family=self.kind, paper="", input_size=self.input_size,
                         num_classes=int(self.num_classes or 0), dataset=self.dataset or "unknown",
                         mean=tuple(self.mean), std=tuple(self.std), min_input_size=1,
                         description=f"{self.label}: {self.spec}")

    def runs_on(self, fmt: str) -> bool:
        """Can a runtime that loads artifacts of format ``fmt`` run this model?
        PyTorch sources are exported to any format; files run as they are."""
        return self.is_pytorch or fmt == self.kind


def file_id(path: Path) -> str:
    """``<stem>-<first 8 hex of sha256>``: stable across machines and renames of the folder."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    stem = path.name[: -len("".join(path.suffixes))] if path.suffixes else path.name
    return f"{stem}-{h.hexdigest()[:8]}"


def is_source_spec(spec: str) -> bool:
    """Is ``spec`` something other than a zoo name (a file, factory or timm name)?"""
    return spec.startswith("timm:") or bool(_FACTORY.match(spec)) or Path(spec).suffix.lower() in FILE_SUFFIXES


def resolve_source(spec: Any, *, input_size: Optional[int] = None, mean: Optional[tuple] = None,
                   std: Optional[tuple] = None, name: Optional[str] = None,
                   factory_kwargs: Optional[dict[str, Any]] = None) -> ModelSource:
    """The ``ModelSource`` for ``spec`` (a zoo name, a path, ``pkg.mod:callable``,
    ``timm:<name>``, or an ``nn.Module``). ``input_size`` (square side) is needed
    where the file's input is dynamic; ``mean``/``std`` override the
    normalisation the source carries."""
    from torch import nn

    if isinstance(spec, nn.Module):
        return _from_module(spec, name or type(spec).__name__, input_size, mean, std)
    if not isinstance(spec, str) or not spec:
        raise InvalidOptionError(f"a model is a zoo name, a file, package.module:callable or timm:<name>, "
                                 f"not {spec!r}")
    if spec.startswith("timm:"):
        return _from_timm(spec, input_size, mean, std)
    suffix = Path(spec).suffix.lower()
    if suffix in FILE_SUFFIXES:
        return _from_file(Path(spec), FILE_SUFFIXES[suffix], input_size, mean, std)
    if _FACTORY.match(spec):
        return _from_factory(spec, input_size, mean, std, factory_kwargs or {})
    return _from_zoo(spec, input_size, mean, std)


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------
def _norm(src_mean, src_std, src_from, mean, std, warnings) -> tuple[tuple, tuple, str]:
    if mean is not None or std is not None:
        if mean is None or std is None:
            raise InvalidOptionError("--mean and --std go together (three values each)")
        return tuple(mean), tuple(std), "given"
    if src_mean is not None:
        return tuple(src_mean), tuple(src_std), src_from
    warnings.append("no normalisation given or stored with the model: using ImageNet's mean/std "
                    f"({', '.join(map(str, IMAGENET_MEAN))} / {', '.join(map(str, IMAGENET_STD))}); "
                    "pass --mean/--std if it was trained otherwise")
    return IMAGENET_MEAN, IMAGENET_STD, "imagenet default"


def _metadata_beside(path: Path) -> dict[str, Any]:
    """edgecnn's export metadata (``<file>.json``) when it is there."""
    meta = path.with_name(path.name + ".json")
    if not meta.exists():
        return {}
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read {meta}: {exc}") from None
    return data if isinstance(data, dict) else {}


def _square(shape: list, where: str, input_size: Optional[int]) -> list[int]:
    """[C, H, W] from an NCHW input shape whose H, W may be dynamic."""
    if len(shape) != 4:
        raise InvalidOptionError(f"{where}: expected one NCHW image input, got shape {shape}")
    c, h, w = shape[1:]
    if not isinstance(c, int) or c <= 0:
        raise InvalidOptionError(f"{where}: the channel dimension is dynamic ({c}); edgecnn takes NCHW images")
    if input_size:
        for d in (h, w):
            if isinstance(d, int) and d > 0 and d != input_size:
                raise InvalidOptionError(f"{where} takes {h}x{w} inputs, not --input-size {input_size}")
        return [c, int(input_size), int(input_size)]
    if not (isinstance(h, int) and h > 0 and isinstance(w, int) and w > 0):
        raise InvalidOptionError(f"{where} has a dynamic input size ({shape}); pass --input-size")
    return [c, h, w]


# ---------------------------------------------------------------------------
# the kinds
# ---------------------------------------------------------------------------
def _from_zoo(name: str, input_size, mean, std) -> ModelSource:
    from edgecnn.models import MODELS, create_model  # registers the families

    card = MODELS.get(name).card  # an unknown name: one line with the closest zoo names
    size = int(input_size or card.input_size)
    warnings: list[str] = []
    m, s, frm = _norm(card.mean, card.std, "card", mean, std, warnings)
    return ModelSource(name, "zoo", name, [3, size, size], m, s, frm, card.num_classes, dataset=card.dataset,
                       warnings=warnings, _build=lambda: create_model(name, input_size=size))


def _from_module(module: Any, name: str, input_size, mean, std) -> ModelSource:
    card = getattr(module, "edgecnn_card", None)
    size = input_size or (card.input_size if card else None)
    if not size:
        raise InvalidOptionError(f"module {name}: give input_size (the side of its square input)")
    warnings: list[str] = []
    m, s, frm = _norm(card.mean if card else None, card.std if card else None, "card", mean, std, warnings)
    src = ModelSource(name, "module", card.name if card else name, [3, int(size), int(size)], m, s, frm,
                      warnings=warnings, _build=lambda: module)
    src.num_classes = _probe_classes(module, src.input_shape)
    return src


def _from_timm(spec: str, input_size, mean, std) -> ModelSource:
    try:
        import timm
    except ImportError:
        raise MissingDependencyError("timm", "timm", f"the model {spec}") from None
    arch = spec[len("timm:"):]
    names = timm.list_models()
    if arch not in names:
        import difflib

        close = difflib.get_close_matches(arch, names, n=3, cutoff=0.6)
        hint = f"; did you mean: {', '.join('timm:' + c for c in close)}?" if close else ""
        raise InvalidOptionError(f"timm has no model {arch!r}{hint}")
    cfg = timm.get_pretrained_cfg(arch)
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg or {})
    c, h, w = cfg.get("input_size") or (3, 224, 224)
    size = int(input_size or h)
    warnings: list[str] = []
    m, s, frm = _norm(cfg.get("mean"), cfg.get("std"), "pretrained_cfg", mean, std, warnings)
    classes = int(cfg.get("num_classes") or 1000)
    return ModelSource(spec, "timm", spec, [int(c), size, size], m, s, frm, classes, warnings=warnings,
                       dataset="imagenet" if classes == 1000 else None,
                       _build=lambda: timm.create_model(arch, pretrained=False))


def _from_factory(spec: str, input_size, mean, std, extra: dict[str, Any]) -> ModelSource:
    from torch import nn

    m = _FACTORY.match(spec)
    kwargs = dict(extra)
    if m.group("args"):
        try:
            call = ast.parse(f"f({m.group('args')})", mode="eval").body
            if call.args:
                raise ValueError("positional arguments")
            kwargs.update({kw.arg: ast.literal_eval(kw.value) for kw in call.keywords})
        except (SyntaxError, ValueError) as exc:
            raise InvalidOptionError(f"{spec}: the factory's arguments must be key=literal pairs ({exc})") from None
    try:
        fn = getattr(importlib.import_module(m.group("module")), m.group("attr"))
    except ImportError as exc:
        raise InvalidOptionError(f"factory {spec}: cannot import {m.group('module')} ({exc})") from None
    except AttributeError:
        raise InvalidOptionError(f"factory {spec}: {m.group('module')} has no {m.group('attr')!r}") from None
    if not callable(fn):
        raise InvalidOptionError(f"factory {spec}: {m.group('attr')} is not callable")

    def build() -> Any:
        try:
            model = fn(**kwargs)
        except TypeError as exc:
            raise InvalidOptionError(f"factory {spec} could not be called: {exc}") from None
        if not isinstance(model, nn.Module):
            raise InvalidOptionError(f"factory {spec} returned {type(model).__name__}, not a torch.nn.Module")
        return model

    model = build()
    card = getattr(model, "edgecnn_card", None)
    size = input_size or (card.input_size if card else None) or 224
    warnings: list[str] = []
    mm, ss, frm = _norm(card.mean if card else None, card.std if card else None, "card", mean, std, warnings)
    src = ModelSource(spec, "factory", spec, [3, int(size), int(size)], mm, ss, frm, warnings=warnings,
                      _build=build)
    if not (input_size or card):
        warnings.append(f"factory {spec}: no input size given, using 224 (pass --input-size)")
    src.num_classes = _probe_classes(model, src.input_shape)
    return src


def _probe_classes(model: Any, shape: list[int]) -> Optional[int]:
    """The class count: the size of one forward pass's output (on the meta device where it can)."""
    import torch

    try:
        with torch.no_grad():
            out = _eval(model)(torch.zeros(1, *shape))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return int(out.reshape(1, -1).shape[1])
    except Exception as exc:  # the shape does not fit the model: say so in one line
        raise InvalidOptionError(f"the model does not run on a 1x{'x'.join(map(str, shape))} input: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def _from_file(path: Path, kind: str, input_size, mean, std) -> ModelSource:
    if not path.is_file():
        raise InvalidOptionError(f"no such model file: {path}")
    meta = _metadata_beside(path)
    warnings: list[str] = []
    m, s, frm = _norm(meta.get("mean"), meta.get("std"), "metadata", mean, std, warnings)
    if kind == "onnx":
        shape, classes = _onnx_io(path)
    elif kind == "tflite":
        shape, classes = _tflite_io(path)
    else:
        return _from_torch_file(path, kind, input_size, m, s, frm, warnings)
    sample = _square(shape, str(path), input_size or meta.get("input_size"))
    return ModelSource(str(path), kind, file_id(path), sample, m, s, frm, classes, path=path,
                       classes=meta.get("classes"), dataset=meta.get("dataset"), warnings=warnings)


def _onnx_io(path: Path) -> tuple[list, Optional[int]]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise CorruptFileError(f"{path} is not a readable ONNX model ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else 'truncated?'})") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if not inputs or not model.graph.output:
        raise CorruptFileError(f"{path} has no graph input or output")

    def dims(v) -> list:
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                for d in v.type.tensor_type.shape.dim]

    out = dims(model.graph.output[0])
    classes = out[-1] if out and isinstance(out[-1], int) and out[-1] > 0 else None
    return dims(inputs[0]), classes


def _tflite_io(path: Path) -> tuple[list, Optional[int]]:
    from edgecnn.errors import require

    interp_mod = require("ai_edge_litert.interpreter", "tflite", "reading a TFLite file")
    try:
        interp = interp_mod.Interpreter(model_path=str(path))
    except Exception as exc:
        raise CorruptFileError(f"{path} is not a readable TFLite model ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    shape = [int(v) for v in interp.get_input_details()[0]["shape"]]
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):  # NHWC: report NCHW
        shape = [shape[0], shape[3], shape[1], shape[2]]
    out = [int(v) for v in interp.get_output_details()[0]["shape"]]
    return shape, (out[-1] if out else None)


def _from_torch_file(path: Path, kind: str, input_size, m, s, frm, warnings) -> ModelSource:
    import torch

    def load() -> Any:
        try:
            if kind == "exported_program":
                return torch.export.load(str(path))
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            if kind == "torchscript" and is_checkpoint_file(path):
                raise InvalidOptionError(f"{path} is an edgecnn checkpoint, not a model: give the zoo model and "
                                         f"--checkpoint {path}") from None
            raise CorruptFileError(f"{path} is not a readable {LABELS[kind]} ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''})") from None

    loaded = load()
    shape = None
    if kind == "exported_program":
        sig = loaded.graph_signature
        skip = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers)
        args = [n for n in loaded.graph.nodes if n.op == "placeholder" and n.name not in skip]
        val = args[0].meta.get("val") if args else None
        if val is not None:
            shape = [d if isinstance(d, int) else None for d in val.shape]
        build = loaded.module
    else:
        build = load
    model = build()
    size = input_size or (shape[-1] if shape and isinstance(shape[-1], int) else None)
    if not size:
        raise InvalidOptionError(f"{path} does not say its input size; pass --input-size")
    src = ModelSource(str(path), kind, file_id(path), [3, int(size), int(size)], m, s, frm, path=path,
                      warnings=warnings, _build=build)
    src.num_classes = _probe_classes(model, src.input_shape)
    return src


def _eval(model: Any) -> Any:
    """``model.eval()``, for the modules that allow it (an ExportedProgram's module does not)."""
    try:
        return model.eval()
    except (NotImplementedError, RuntimeError):
        return model


def is_checkpoint_file(path: Path) -> bool:
    try:
        import torch

        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception:
        return False
    return isinstance(obj, dict) and str(obj.get("format", "")).startswith("edgecnn-checkpoint")

