"""The torch.export front end on models nobody on this team wrote (issue 19): torchvision
architectures and Hugging Face ``transformers`` models built from small config objects, random
weights, no downloads. Every model's MACs equal torch's own FLOP counter (``FlopCounterMode`` /
2, math SDPA backend, MHA fast path off: `test_capture.flop_counter_macs`), every layer but the
graph inputs reads another layer (nothing dropped) and the parameters equal
``module.parameters()``.

The default tier runs a representative set at small inputs; ``-m slow`` sweeps every torchvision
classification and segmentation model and 11 more transformers configs (`docs/workload.md` has
the measured figures)::

    .venv/bin/python -m pytest -m slow tests/test_zoo.py
"""

from __future__ import annotations

import importlib
import sys
import types

import pytest
import torch
from test_capture import assert_no_orphans, flop_counter_macs, r
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from codesign.workload import from_torch


def _import_torchvision() -> types.ModuleType:
    """torchvision, whose model definitions are pure Python, even when its C++ extension
    cannot load.

    The torchvision wheel reachable here (0.28.0, a CUDA build, installed with ``--no-deps``
    beside torch 2.13.0+cpu) cannot load its ``_C`` extension, and then
    ``torchvision/_meta_registrations.py`` fails at import ("operator torchvision::nms does not
    exist"): it registers fake kernels for those very C++ operators (nms, qnms) with
    ``torch.library.register_fake``, which, unlike its other registrations, does not check that
    the extension loaded. No classification or segmentation model calls them, so that one module
    is replaced by an empty stand-in and the import retried; the C++ operators (nms, roi_align,
    deform_conv2d: detection models) then fail when called. A torchvision whose extension loads
    imports unchanged. transformers imports torchvision too (``transformers.image_utils``), so
    this runs before any transformers import."""
    try:
        import torchvision
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for name in [n for n in sys.modules if n.partition(".")[0] == "torchvision"]:
            del sys.modules[name]
        stub = "torchvision._meta_registrations"
        sys.modules[stub] = types.ModuleType(stub)
        import torchvision
    return torchvision


torchvision = _import_torchvision()
tv = torchvision.models
hf = importlib.import_module("transformers")  # after torchvision, which it imports


def check(module: nn.Module, *inputs: torch.Tensor, folded_macs: int = 0, unused: int = 0):
    """The zoo contract: MACs equal the FLOP counter's (less ``folded_macs``, the counted MACs
    of weight-only subgraphs the front end folds as constants), nothing dropped, parameters as
    torch counts them (less ``unused``, the elements of parameters forward never reads).
    Returns the workload."""
    workload = from_torch(module, *inputs)
    assert workload.total_macs == flop_counter_macs(module, *inputs) - folded_macs > 0
    assert_no_orphans(workload)
    assert workload.total_params == sum(p.numel() for p in module.parameters()) - unused
    return workload


def image(size: int) -> torch.Tensor:
    return r(1, 3, size, size)


# -- torchvision: a representative set at small inputs --


def _maxvit_small() -> nn.Module:
    """MaxViT-T's blocks (relative-position einsum attention over block and grid partitions,
    MBConv with squeeze-excite) at 2 stages of one block, for 64x64 inputs (``maxvit_t`` needs
    224x224: every stage's size a multiple of its partition size 7)."""
    return tv.MaxVit(
        input_size=(64, 64), stem_channels=16, partition_size=4, block_channels=[32, 64],
        block_layers=[1, 1], head_dim=16, stochastic_depth_prob=0.2,
    )  # fmt: skip


TORCHVISION = {
    "resnet18": (lambda: tv.resnet18(), 64),
    "mobilenet_v3_small": (lambda: tv.mobilenet_v3_small(), 64),  # hardswish, squeeze-excite
    "efficientnet_b0": (lambda: tv.efficientnet_b0(), 64),  # stochastic_depth
    "convnext_tiny": (lambda: tv.convnext_tiny(), 64),  # stochastic_depth, permuted layer_norm
    "swin_t": (lambda: tv.swin_t(), 64),  # shifted_window_attention
    "vit_b_16_32px": (lambda: tv.vit_b_16(image_size=32), 32),  # nn.MultiheadAttention
    "maxvit_small": (_maxvit_small, 64),  # einsum attention, grid/block partitions
    "lraspp_mobilenet_v3_large": (  # segmentation: bilinear interpolate to the input size
        lambda: tv.segmentation.lraspp_mobilenet_v3_large(weights_backbone=None), 64,
    ),  # fmt: skip
    "squeezenet1_1": (lambda: tv.squeezenet1_1(), 64),
    "densenet121": (lambda: tv.densenet121(), 32),
    "googlenet": (lambda: tv.googlenet(aux_logits=False, init_weights=False), 64),
    "regnet_y_400mf": (lambda: tv.regnet_y_400mf(), 64),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_models_match_the_flop_counter(name):
    factory, size = TORCHVISION[name]
    torch.manual_seed(0)
    check(factory().eval(), image(size))


def _ids(n: int = 16) -> torch.Tensor:
    return torch.randint(0, 100, (1, n), generator=torch.Generator().manual_seed(n))


_SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


def _bert():
    return hf.BertModel(hf.BertConfig(vocab_size=100, **_SMALL, attn_implementation="sdpa"))


def _gpt2():
    config = hf.GPT2Config(
        vocab_size=100, n_embd=64, n_layer=2, n_head=4, n_positions=32, bos_token_id=0,
        eos_token_id=0, attn_implementation="eager",
    )  # fmt: skip
    return hf.GPT2Model(config)


def _vit():
    config = hf.ViTConfig(image_size=32, patch_size=8, **_SMALL, attn_implementation="eager")
    return hf.ViTModel(config)


def _llama():
    config = hf.LlamaConfig(
        vocab_size=100, **_SMALL, num_key_value_heads=2, max_position_embeddings=32,
        attn_implementation="sdpa",
    )  # fmt: skip
    return hf.LlamaModel(config)


def _whisper_encoder():
    config = hf.WhisperConfig(
        d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
        num_mel_bins=16, max_source_positions=16, attn_implementation="sdpa",
    )  # fmt: skip
    return hf.models.whisper.modeling_whisper.WhisperEncoder(config)


# BERT with a padding mask; GPT-2 and Llama return a KV cache (``DynamicCache``) beside the
# hidden states; Llama has grouped-query attention (2 key/value heads for 4 query heads)
TRANSFORMERS = {
    "bert": (_bert, lambda: (_ids(), (torch.arange(16) < 12).long()[None])),
    "gpt2": (_gpt2, lambda: (_ids(),)),
    "vit": (_vit, lambda: (image(32),)),
    "llama": (_llama, lambda: (_ids(),)),
    "whisper_encoder": (_whisper_encoder, lambda: (r(1, 16, 32),)),  # 16 mel bins x 32 frames
}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformers_models_match_the_flop_counter(name):
    factory, inputs = TRANSFORMERS[name]
    torch.manual_seed(0)
    workload = check(factory().eval(), *inputs())
    ops = {layer.op for layer in workload.layers}
    attention = {"attention_qk", "attention_pv"} <= ops  # SDPA, as two matmuls per head
    assert attention == (name in ("bert", "llama", "whisper_encoder"))


_IDS = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2)
# more configs for the slow sweep: (model, inputs, elements of parameters forward never reads)
TRANSFORMERS_MORE = {
    "distilbert": lambda: (hf.DistilBertModel(hf.DistilBertConfig(
        vocab_size=100, dim=64, n_layers=2, n_heads=4, hidden_dim=128, pad_token_id=0)),
        (_ids(),), 0),
    "roberta": lambda: (hf.RobertaModel(hf.RobertaConfig(vocab_size=100, **_SMALL, **_IDS)),
                        (_ids(),), 0),
    "t5_encoder": lambda: (hf.T5EncoderModel(hf.T5Config(  # relative position bias as SDPA mask
        vocab_size=100, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)), (_ids(),), 0),
    "bart": lambda: (hf.BartModel(hf.BartConfig(  # encoder-decoder
        vocab_size=100, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_position_embeddings=32, decoder_start_token_id=2, forced_eos_token_id=2, **_IDS)),
        (_ids(),), 0),
    "opt": lambda: (hf.OPTModel(hf.OPTConfig(
        vocab_size=100, hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=4,
        max_position_embeddings=32, word_embed_proj_dim=64, **_IDS)), (_ids(),), 0),
    "mistral": lambda: (hf.MistralModel(hf.MistralConfig(  # sliding-window attention
        vocab_size=100, **_SMALL, num_key_value_heads=2, max_position_embeddings=32,
        sliding_window=8)), (_ids(),), 0),
    "qwen2": lambda: (hf.Qwen2Model(hf.Qwen2Config(
        vocab_size=100, **_SMALL, num_key_value_heads=2, max_position_embeddings=32)),
        (_ids(),), 0),
    "gemma": lambda: (hf.GemmaModel(hf.GemmaConfig(
        vocab_size=100, **_SMALL, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=32)), (_ids(),), 0),
    "mixtral": lambda: (hf.MixtralModel(hf.MixtralConfig(  # mixture of experts, top-2 of 4
        vocab_size=100, **_SMALL, num_key_value_heads=2, max_position_embeddings=32,
        num_local_experts=4, num_experts_per_tok=2)), (_ids(),), 0),
    "clip_vision": lambda: (hf.CLIPVisionModel(hf.CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=8)), (image(32),), 0),
    "wav2vec2": lambda: _wav2vec2(),
}  # fmt: skip


def _wav2vec2():
    """A 1-D conv feature encoder, a grouped positional conv, 2 transformer layers; its
    ``masked_spec_embed`` (64 elements) is read only by training-time masking."""
    config = hf.Wav2Vec2Config(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )  # fmt: skip
    model = hf.Wav2Vec2Model(config)
    return model, (r(1, 400),), model.masked_spec_embed.numel()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSFORMERS_MORE))
def test_more_transformers_models_match_the_flop_counter(name):
    torch.manual_seed(0)
    module, inputs, unused = TRANSFORMERS_MORE[name]()
    check(module.eval(), *inputs, unused=unused)


# -- focused tests of the fixes the zoo needed --


def test_constants_built_from_shared_constants_are_walked_once(monkeypatch):
    """A DAG of constants (Swin's relative-position index and shifted-window mask): finding a
    layer's parameters visits each constant node once (it visited every path: 2^depth)."""
    from codesign.workload.frontend import _GraphBuilder

    class Lattice(nn.Module):
        def __init__(self, depth: int):
            super().__init__()
            self.depth, self.w = depth, nn.Parameter(torch.full((4,), 0.5))

        def forward(self, x):
            a, b = self.w, self.w * 0.5
            for _ in range(self.depth):
                a, b = a + b, a * b
            return x * a + b

    walked = []
    walk = _GraphBuilder.const_params
    monkeypatch.setattr(
        _GraphBuilder, "const_params", lambda self, node: walked.append(node) or walk(self, node)
    )
    for frontend in ("export", "fx"):  # the memo is in the shared builder: both front ends
        walked.clear()
        workload = from_torch(Lattice(16), r(2, 4), frontend=frontend)
        # each constant is walked once (a memo hit per further use): linear, where every path
        # of the 16-deep lattice would be 2^16
        assert len(set(walked)) <= 3 * 16 + 8 and len(walked) <= 4 * (3 * 16 + 8)
        assert workload.total_params == 4
        assert_no_orphans(workload)


class _Cache:
    """Tensors kept in attributes of plain objects, as Hugging Face's ``DynamicCache``."""

    def __init__(self, keys: list[torch.Tensor]):
        self.layers = [types.SimpleNamespace(keys=k, values=-k, ready=True) for k in keys]
        self.offloading = False


class CachingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.k, self.out = nn.Linear(8, 4), nn.Linear(8, 3)

    def forward(self, x):
        key = self.k(x)
        return {"y": self.out(x), "cache": _Cache([key, key.relu()])}


def test_an_output_object_holding_tensors_is_captured_with_its_tensors_as_outputs():
    # torch.export cannot flatten the cache object; the front end exports the output's tensors
    workload = from_torch(CachingNet().eval(), r(2, 8))
    assert workload.total_macs == 2 * 8 * 4 + 2 * 8 * 3
    names = [layer.name for layer in workload.layers]
    assert names[:3] == ["x", "k", "out"]  # module paths as if exported unwrapped
    outputs = {n for n in names if workload.node(n).is_output}
    assert {"out", "k", "relu", "neg", "neg_1"} <= outputs
    assert_no_orphans(workload)


def _swin_v2_small() -> nn.Module:
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

    return tv.SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
        stochastic_depth_prob=0.2, block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2,
    )  # fmt: skip


def _position_bias_macs(module: nn.Module) -> int:
    """What the FLOP counter counts in Swin V2's continuous position bias MLPs."""
    from torchvision.models.swin_transformer import ShiftedWindowAttentionV2

    total = 0
    for m in module.modules():
        if isinstance(m, ShiftedWindowAttentionV2):
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                m.get_relative_position_bias()
            total += counter.get_total_flops() // 2
    return total


def test_swin_v2_position_bias_mlp_is_a_folded_constant():
    """Swin V2 recomputes a relative position bias from a constant coordinate table with a
    2-layer MLP (2 -> 512 -> heads) in every forward; it depends on weights only, so the front
    end folds it as a constant (as ``weight.t()``) and its parameters count with the layer that
    adds it. Per block: (2*4-1)^2 = 49 table entries x (2 x 512 + 512 x heads) MACs."""
    torch.manual_seed(0)
    module = _swin_v2_small().eval()
    by_hand = sum(49 * (2 * 512 + 512 * h) for h in (2, 2, 4, 4))
    assert _position_bias_macs(module) == by_hand
    check(module, image(32), folded_macs=by_hand)


# -- the full sweep (slow) --

_FIXED_SIZE = {"maxvit_t": 224, "inception_v3": 96}  # smallest inputs these accept
_CLASSIFICATION = tv.list_models(module=tv)
_SEGMENTATION = tv.list_models(module=tv.segmentation)


def _size(name: str) -> int:
    return 224 if name.startswith("vit_") else _FIXED_SIZE.get(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", _CLASSIFICATION + _SEGMENTATION)
def test_every_torchvision_model_matches_the_flop_counter(name):
    kwargs = {"weights": None}
    if name in _SEGMENTATION:
        kwargs["weights_backbone"] = None
    if name in ("googlenet", "inception_v3"):
        kwargs |= {"aux_logits": False, "init_weights": False}
    torch.manual_seed(0)
    module = tv.get_model(name, **kwargs).eval()
    check(module, image(_size(name)), folded_macs=_position_bias_macs(module))
