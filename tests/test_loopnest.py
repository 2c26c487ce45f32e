"""LoopNest factories and projections against hand-derived counts."""

import itertools

import pytest

from codesign.errors import SpecError
from codesign.workload import TensorRole, axis_extent, conv1d, conv2d, einsum, linear, matmul


def test_resnet_stem_conv_counts():
    # 7x7/2 conv, 3->64 channels, 224x224 input, padding 3 -> 112x112 output.
    nest = conv2d(
        "conv1",
        in_channels=3,
        out_channels=64,
        input_size=(224, 224),
        kernel_size=7,
        stride=2,
        padding=3,
    )
    assert nest.sizes == {"N": 1, "K": 64, "C": 3, "P": 112, "Q": 112, "R": 7, "S": 7}
    assert nest.macs == 64 * 3 * 112 * 112 * 7 * 7
    assert nest.params == 64 * 3 * 7 * 7
    # Padded input rows touched: 2*(112-1) + 7 = 229
    assert nest.inputs.shape(nest.sizes) == (1, 3, 229, 229)
    assert nest.elements(TensorRole.OUTPUTS) == 64 * 112 * 112
    assert nest.reduction_dims == {"C", "R", "S"}


def test_grouped_depthwise_and_dilated():
    dw = conv2d(
        "dw",
        in_channels=32,
        out_channels=32,
        input_size=(16, 16),
        kernel_size=3,
        padding=1,
        groups=32,
        bias=True,
    )
    assert dw.sizes == {"N": 1, "G": 32, "K": 1, "C": 1, "P": 16, "Q": 16, "R": 3, "S": 3}
    assert dw.macs == 32 * 16 * 16 * 9
    assert dw.params == 32 * 9 + 32
    assert dw.inputs.shape(dw.sizes) == (1, 32, 18, 18)
    g = conv2d(
        "g",
        in_channels=8,
        out_channels=12,
        input_size=(10, 10),
        kernel_size=3,
        dilation=2,
        groups=4,
    )
    # out = (10 - (2*2+1)) + 1 = 6 ; K per group 3, C per group 2
    assert g.sizes == {"N": 1, "G": 4, "K": 3, "C": 2, "P": 6, "Q": 6, "R": 3, "S": 3}
    assert g.inputs.shape(g.sizes) == (1, 8, 10, 10)
    assert g.weights.shape(g.sizes) == (4, 3, 2, 3, 3)


def test_conv1d_and_linear_and_matmul():
    c = conv1d("c", in_channels=4, out_channels=6, input_size=20, kernel_size=5, stride=3)
    assert c.sizes["P"] == 6 and c.macs == 6 * 4 * 6 * 5
    lin = linear("fc", in_features=16, out_features=10, leading=(2, 7), bias=True)
    assert lin.sizes == {"M": 14, "N": 10, "K": 16} and lin.params == 170
    mm = matmul("qk", m=5, n=5, k=8, batch=6)
    assert mm.sizes == {"B": 6, "M": 5, "N": 5, "K": 8} and mm.params == 0 and mm.macs == 1200


@pytest.mark.parametrize(
    "a,b,ti,tj", list(itertools.product([1, 2, 3], [1, 2, 3], [1, 2, 5], [1, 3, 4]))
)
def test_axis_extent_equals_brute_force(a, b, ti, tj):
    distinct = {a * i + b * j for i in range(ti) for j in range(tj)}
    assert axis_extent((("P", a), ("R", b)), {"P": ti, "R": tj}) == len(distinct)


def test_einsum_affine_indices():
    nest = einsum("O[k,p] += I[c,2*p+r] * W[k,c,r]", k=8, c=4, p=10, r=3)
    assert nest.inputs.axes[1] == (("P", 2), ("R", 1))
    assert nest.inputs.shape(nest.sizes) == (4, 21)


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: conv2d(
                "x", in_channels=6, out_channels=4, input_size=8, kernel_size=3, groups=4
            ),
            r"groups=4 must divide",
        ),
        (
            lambda: conv2d("x", in_channels=3, out_channels=4, input_size=2, kernel_size=3),
            r"smaller than the dilated kernel span 3",
        ),
        (
            lambda: conv2d("x", in_channels=3, out_channels=0, input_size=8, kernel_size=3),
            r"out_channels must be a positive integer, not 0",
        ),
        (lambda: einsum("Z[m] = A[m]"), r"einsum spec must look like"),
        (lambda: einsum("Z[m,n] += A[m,k]*B[k,n]", m=2, n=2), r"no size given for dims \['k'\]"),
        (
            lambda: linear("fc", in_features=4, out_features=2).with_bits(weights=0),
            r"bits must be a positive integer, not 0",
        ),
    ],
)
def test_bad_specs_name_the_field(call, message):
    with pytest.raises(SpecError, match=message):
        call()
