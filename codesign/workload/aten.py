"""The ATen operator table of the torch.export front end (`codesign.workload.capture`).

Every ATen operator is accepted. The MAC-bearing ones (convolutions of any rank, transposed
included; ``linear``; ``mm``/``addmm``/``bmm``/``baddbmm``/``matmul``; ``einsum``;
``scaled_dot_product_attention``; ``lstm``/``gru``/``rnn_tanh``/``rnn_relu``) become loop nests
(`codesign.workload.capture`); every other operator becomes an ``OtherOp`` of one
*category*, which fixes how its element operations are counted and whether it allocates an
activation buffer:

=============  ======================================  ========================================
category       examples                                element ops
=============  ======================================  ========================================
view           view, reshape, permute, transpose,       0, shares its input's buffer
               select, slice, unsqueeze, getitem,
               dropout (eval), contiguous, detach
elementwise    add, mul, relu, gelu, sigmoid, where,    per output element: 1 (``_WEIGHT``
               clamp, masked_fill, pow, rsqrt          lists the heavier ones)
normalization  batch_norm, layer_norm, group_norm,      per output element: 2 (batch_norm), 5
               rms_norm, instance_norm                 (rms_norm), 7 (others)
softmax        softmax, log_softmax                    per output element: 4
reduction      sum, mean, amax, max, var, norm,         per input element: 1 (2 for var/std)
               logsumexp, cumsum, argmax
pooling        max_pool*, avg_pool*, adaptive_*        output elements x window (adaptive:
                                                       per input element)
resize         upsample_*, pixel_shuffle, grid_sample  per output element: taps of the mode
                                                       (nearest 1, linear 2, bilinear 4,
                                                       bicubic 16, trilinear 8)
data_movement  cat, stack, pad, index, gather,          0 (a new buffer: its traffic is the
               embedding, clone, roll, flip, repeat    cost)
other          anything else                           per output element: 1
=============  ======================================  ========================================

Adding an operator: give its ATen name (``torch.ops.aten.<name>``, without the overload) a
category in ``CATEGORY`` (and, if heavier than one op per element, a weight in ``_WEIGHT``); a
MAC-bearing operator gets a handler in ``codesign.workload.capture._Builder.MAC_HANDLERS``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["CATEGORY", "CATEGORIES", "category", "element_ops", "op_name", "window"]

CATEGORIES = (
    "view", "elementwise", "normalization", "softmax", "reduction", "pooling", "resize",
    "data_movement", "other",
)  # fmt: skip


def _table(category: str, names: str) -> dict[str, str]:
    return {n: category for n in names.split()}


CATEGORY: dict[str, str] = {
    **_table(
        "view",
        "view _unsafe_view reshape permute transpose t numpy_T unsqueeze squeeze flatten "
        "unflatten expand expand_as view_as contiguous alias detach select slice narrow "
        "as_strided getitem unbind split split_with_sizes chunk tensor_split dropout "
        "feature_dropout alpha_dropout identity lift_fresh_copy movedim swapaxes type_as to "
        "_to_copy real imag",
    ),
    **_table(
        "elementwise",
        "add sub rsub mul div neg abs relu relu6 hardtanh gelu silu sigmoid tanh hardswish "
        "hardsigmoid leaky_relu elu selu celu mish softplus exp log log2 log1p sqrt rsqrt pow "
        "square sin cos erf reciprocal sign clamp clamp_min clamp_max clip where masked_fill "
        "maximum minimum eq ne lt le gt ge logical_and logical_or logical_not bitwise_and "
        "bitwise_or bitwise_not floor ceil round trunc remainder fmod lerp addcmul addcdiv "
        "floor_divide prelu glu threshold "
        "nan_to_num isnan isinf exp2",
    ),
    **_table(
        "normalization",
        "batch_norm _native_batch_norm_legit_no_training _native_batch_norm_legit "
        "native_batch_norm layer_norm native_layer_norm group_norm native_group_norm "
        "instance_norm rms_norm _fused_rms_norm local_response_norm normalize",
    ),
    **_table("softmax", "softmax _softmax log_softmax _log_softmax _safe_softmax"),
    **_table(
        "reduction",
        "sum mean amax amin max min argmax argmin var std var_mean std_mean norm "
        "linalg_vector_norm logsumexp cumsum cumprod prod any all count_nonzero median topk "
        "sort",
    ),
    **_table(
        "pooling",
        "max_pool1d max_pool2d max_pool3d max_pool2d_with_indices max_pool3d_with_indices "
        "avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
        "adaptive_avg_pool3d _adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d "
        "adaptive_max_pool3d lp_pool1d lp_pool2d",
    ),
    **_table(
        "resize",
        "upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_linear1d "
        "upsample_bilinear2d upsample_bicubic2d upsample_trilinear3d _upsample_nearest_exact2d "
        "_upsample_bilinear2d_aa pixel_shuffle pixel_unshuffle grid_sampler grid_sampler_2d "
        "grid_sample interpolate affine_grid_generator",
    ),
    **_table(
        "data_movement",
        "cat concat concatenate stack hstack vstack pad constant_pad_nd reflection_pad1d "
        "reflection_pad2d replication_pad1d replication_pad2d index index_select gather "
        "scatter scatter_add index_put index_add embedding clone copy roll flip repeat "
        "repeat_interleave tile masked_select take narrow_copy diagonal tril triu im2col "
        "col2im unfold fold channel_shuffle native_channel_shuffle",
    ),
}
"""ATen operator name (no overload) -> category."""

# element ops per output element, where not 1 (normalization and softmax carry their own)
_WEIGHT = {
    "batch_norm": 2, "_native_batch_norm_legit_no_training": 2, "_native_batch_norm_legit": 2,
    "native_batch_norm": 2, "rms_norm": 5, "_fused_rms_norm": 5, "gelu": 1, "softmax": 4,
    "_softmax": 4, "log_softmax": 4, "_log_softmax": 4, "_safe_softmax": 4,
    "var": 2, "std": 2, "var_mean": 2, "std_mean": 2, "addcmul": 2, "addcdiv": 2, "lerp": 2,
}  # fmt: skip
_RESIZE_TAPS = {
    "nearest": 1, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8,
}  # fmt: skip


def op_name(target: object) -> str:
    """The ATen name of a call target, without namespace and overload (``aten.add.Tensor`` ->
    ``add``; ``operator.getitem`` -> ``getitem``)."""
    schema = getattr(target, "_schema", None)
    if schema is not None:
        return schema.name.split("::")[-1]
    return getattr(target, "__name__", str(target))


def category(name: str) -> str:
    """The category of a non-MAC operator (``other`` when it is not in the table)."""
    return CATEGORY.get(name, "other")


def element_ops(
    name: str,
    in_elements: Sequence[int],
    out_elements: int,
    *,
    window: int = 1,
) -> int:
    """Nominal element operations of a non-MAC operator (see the module's table).

    ``in_elements`` are the element counts of its activation inputs, ``window`` the pooling
    window (kernel area); a resize takes the taps of the interpolation mode in its name."""
    cat = category(name)
    if cat in ("view", "data_movement"):
        return 0
    if cat == "reduction":
        return (in_elements[0] if in_elements else out_elements) * _WEIGHT.get(name, 1)
    if cat == "pooling":
        if name.startswith(("adaptive", "_adaptive")):
            return in_elements[0] if in_elements else out_elements
        return out_elements * window
    if cat == "resize":  # the longest mode in the name: "bilinear" before "linear"
        modes = [k for k in _RESIZE_TAPS if k in name]
        return out_elements * (_RESIZE_TAPS[max(modes, key=len)] if modes else 1)
    if cat == "normalization":
        return out_elements * _WEIGHT.get(name, 7)
    return out_elements * _WEIGHT.get(name, 1)


def window(kernel: object, rank: int) -> int:
    """Elements of a pooling window given as an int or a list of ints."""
    if isinstance(kernel, (tuple, list)):
        return math.prod(int(k) for k in kernel) if kernel else 1
    return int(kernel) ** rank
