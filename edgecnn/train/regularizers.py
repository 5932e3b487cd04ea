"""Training-time regularizers that attach to a built model without editing its file.

Stochastic depth (Huang et al., 2016, "Deep Networks with Stochastic Depth"):
each residual block's branch is dropped per sample with probability ``p_l``,
rising linearly with depth to ``drop_prob`` at the last block; kept branches
are scaled by ``1 / (1 - p_l)`` so evaluation needs no change.

The hook: ``apply_stochastic_depth(model, p)`` finds residual blocks by their
class and registers a forward hook on the *last module of the residual
branch*, the one whose output is added to the shortcut. The block's own
forward runs unchanged (so an SE unit, a pre-activation order or a
zero-padded shortcut stays as the model file wrote it); parameters and
state-dict keys are untouched, so checkpoints and exports are unaffected, and
in eval mode the hook is the identity. Blocks it recognises (``BRANCH_END``):

- torchvision ``BasicBlock`` / ``Bottleneck`` (resnet*, resnext*,
  wide_resnet50_2) and edgecnn's ``SEBottleneck`` (se_resnet50): the last BN,
  or the SE unit where there is one;
- pre-activation blocks (preact_resnet18, wrn_28_10): the second conv;
- ``PyramidBlock`` (pyramidnet) and ``XceptionBlock``: the ``branch``;
- inverted residuals with an identity shortcut: edgecnn's MobileNetV2 block
  (``conv``), torchvision's MobileNetV3 block (``block``), MNASNet's
  (``layers``);
- EfficientNet's ``MBConv`` has its own ``StochasticDepth`` module (torchvision
  builds it with 0.2 spread over the blocks); its probability is replaced.

A model with none of these (LeNet, VGG, MobileNetV1, SqueezeNet, DenseNet,
ShuffleNet, GoogLeNet/Inception, NIN) raises ``InvalidOptionError``: stochastic
depth needs residual connections.

Shake-Shake (Gastaldi, 2017) needs blocks with two parallel residual
branches: ``edgecnn.models.shake_shake`` (``shake_shake26_2x32d`` /
``_2x96d``) builds with them, averaging the branches until
``apply_shake_shake`` turns the shaking on; any other model is refused.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.models.shake_shake import ShakeShakeBlock, shake_shake  # noqa: F401  (re-exported)


def _branch_end_table() -> list[tuple[type, Callable[[nn.Module], nn.Module | None]]]:
    """(block class, block -> the module whose output joins the shortcut, or None
    where this instance has no identity-style residual). Subclasses first."""
    from torchvision.models.efficientnet import MBConv
    from torchvision.models.mnasnet import _InvertedResidual as MnasInverted
    from torchvision.models.mobilenetv3 import InvertedResidual as V3Inverted
    from torchvision.models.resnet import BasicBlock, Bottleneck

    from edgecnn.models._classic_blocks import PreActBlock
    from edgecnn.models.mobilenet_v2 import InvertedResidual as V2Inverted
    from edgecnn.models.pyramidnet import PyramidBlock
    from edgecnn.models.xception import XceptionBlock

    return [
        (Bottleneck, lambda m: m.se if hasattr(m, "se") else m.bn3),
        (BasicBlock, lambda m: m.se if hasattr(m, "se") else m.bn2),
        (PreActBlock, lambda m: m.conv2),
        (PyramidBlock, lambda m: m.branch),
        (XceptionBlock, lambda m: m.branch),
        (V2Inverted, lambda m: m.conv if m.use_residual else None),
        (V3Inverted, lambda m: m.block if m.use_res_connect else None),
        (MnasInverted, lambda m: m.layers if m.apply_residual else None),
        (MBConv, lambda m: m.stochastic_depth if m.use_res_connect else None),
    ]


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module, nn.Module]]:
    """(name, block, branch-end module) of every residual block the stochastic-depth
    hook recognises, in registration (forward) order."""
    table = _branch_end_table()
    out = []
    for name, m in model.named_modules():
        for cls, end in table:
            if isinstance(m, cls):
                target = end(m)
                if target is not None:
                    out.append((name, m, target))
                break
    return out


def _drop_hook(module: nn.Module, inputs, output):
    # whole samples of the branch dropped with probability p, the rest scaled by 1 / (1 - p)
    from torchvision.ops import stochastic_depth

    return stochastic_depth(output, module.edgecnn_drop_prob, "row", module.training)


def apply_stochastic_depth(model: nn.Module, drop_prob: float) -> int:
    """Attach stochastic depth with linearly rising drop probabilities up to
    ``drop_prob``; returns the number of residual blocks it applies to."""
    if not 0.0 <= drop_prob < 1.0:
        raise InvalidOptionError(f"stochastic depth probability must be in [0, 1), got {drop_prob}")
    if drop_prob == 0.0:
        return 0
    blocks = residual_blocks(model)
    if not blocks:
        name = getattr(model, "edgecnn_config", {}).get("name", type(model).__name__)
        raise InvalidOptionError(f"{name} has no residual blocks, so stochastic depth cannot apply "
                                 "(it works on the ResNet, WRN, PyramidNet, Xception, MobileNetV2/V3, MNASNet "
                                 "and EfficientNet families)")
    from torchvision.ops import StochasticDepth

    n = len(blocks)
    for i, (_, block, end) in enumerate(blocks):
        p = drop_prob * (i + 1) / n
        block.edgecnn_drop_prob = p
        if isinstance(end, StochasticDepth):  # EfficientNet: set its own module, no second drop
            end.p = p
            continue
        end.edgecnn_drop_prob = p
        if not getattr(end, "edgecnn_drop_hooked", False):
            end.register_forward_hook(_drop_hook)
            end.edgecnn_drop_hooked = True
    return n


def apply_shake_shake(model: nn.Module) -> int:
    """Turn Shake-Shake on in every two-branch block (``shake_shake26_*``);
    returns how many. A model without such blocks is refused, so
    ``--shake-shake`` never silently does nothing."""
    blocks = [m for m in model.modules() if isinstance(m, ShakeShakeBlock)]
    if not blocks:
        name = getattr(model, "edgecnn_config", {}).get("name", type(model).__name__)
        raise InvalidOptionError(f"{name} has no two-branch residual blocks, so Shake-Shake cannot apply "
                                 "(use shake_shake26_2x32d or shake_shake26_2x96d)")
    for block in blocks:
        block.shake = True
    return len(blocks)
