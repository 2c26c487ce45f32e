"""Example models in plain torch, each built by a factory with no required arguments.

Convention: ``NAME()`` returns a ``torch.nn.Module`` in eval mode with deterministic weights
(fixed seed), and ``NAME_inputs()`` returns the tuple of example inputs it is analyzed with.
``codesign analyze examples/models.py:NAME`` uses ``NAME_inputs()`` unless ``--input-shape`` is
given. A factory may instead return ``(module, inputs)``; ``codesign.workload.load_model``
accepts both forms.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "BasicBlock",
    "DigitsCNN",
    "InvertedResidual",
    "MobileNetV2",
    "ResNet18",
    "ResidualBlock",
    "SelfAttention",
    "EncoderLayer",
    "TransformerEncoder",
    "digits_cnn",
    "digits_cnn_inputs",
    "mobilenet_v2",
    "mobilenet_v2_inputs",
    "resnet18",
    "resnet18_inputs",
    "residual_block",
    "residual_block_inputs",
    "transformer_encoder",
    "transformer_encoder_inputs",
    "ViTTiny",
    "vit_tiny",
    "vit_tiny_inputs",
]


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits (input ``(N, 1, 8, 8)``, 10 classes).

    ``conv1`` (1->8, 3x3, pad 1) - ReLU - ``conv2`` (8->16, 3x3, pad 1) - ReLU - 2x2 max-pool -
    flatten - ``fc`` (256 -> 10).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = self.pool(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def digits_cnn() -> nn.Module:
    """The digits CNN with seeded (untrained) weights, in eval mode."""
    _seeded(0)
    return DigitsCNN().eval()


def digits_cnn_inputs() -> tuple[torch.Tensor]:
    """One 8x8 grey-scale digit in [0, 16] like scikit-learn's ``load_digits``: ``(1, 1, 8, 8)``."""
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 17, (1, 1, 8, 8), generator=g).float(),)


# --- ResNet-18 (torchvision architecture: 11,689,512 parameters) ---------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 exactly as ``torchvision.models.resnet18`` builds it (module names included)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths, layers, in_channels = (64, 128, 256, 512), [], 64
        for i, channels in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(
                nn.Sequential(
                    BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels)
                )
            )
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomize_batchnorm(model: nn.Module) -> None:
    """Give every BatchNorm non-trivial statistics so that folding it is visible."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


def resnet18() -> nn.Module:
    """ResNet-18 for 1000 ImageNet classes with seeded (untrained) weights, in eval mode."""
    _seeded(0)
    model = ResNet18()
    _randomize_batchnorm(model)
    return model.eval()


def resnet18_inputs() -> tuple[torch.Tensor]:
    """One 224x224 RGB image: ``(1, 3, 224, 224)``."""
    return (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)),)


# --- MobileNetV2 (torchvision architecture: 3,504,872 parameters) --------------------------------


def _conv_bn_relu6(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(),
    )


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise, 1x1 linear projection; residual when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = in_ch * expand_ratio
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_ch, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) as ``torchvision.models.mobilenet_v2`` builds it."""

    # (expansion t, output channels c, repeats n, first stride s)
    SETTINGS = (
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
        (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    )  # fmt: skip

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        features: list[nn.Module] = [_conv_bn_relu6(3, 32, 3, 2)]
        in_ch = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                features.append(InvertedResidual(in_ch, c, s if i == 0 else 1, t))
                in_ch = c
        features.append(_conv_bn_relu6(in_ch, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2() -> nn.Module:
    """MobileNetV2 for 1000 classes with seeded (untrained) weights, in eval mode."""
    _seeded(0)
    model = MobileNetV2()
    _randomize_batchnorm(model)
    return model.eval()


def mobilenet_v2_inputs() -> tuple[torch.Tensor]:
    """One 224x224 RGB image: ``(1, 3, 224, 224)``."""
    return (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)),)


# --- a small transformer encoder (attention written with matmuls) -------------------------------


class SelfAttention(nn.Module):
    """Multi-head self-attention with explicit ``Q @ K^T`` and ``A @ V`` matmuls."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * self.head_dim**-0.5
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer: attention and a GELU MLP, each with a residual."""

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.fc2(self.act(self.fc1(x))))


class TransformerEncoder(nn.Module):
    """Input projection, encoder layers, mean pooling over tokens and a classifier."""

    def __init__(
        self, in_features: int = 32, dim: int = 64, heads: int = 4, hidden: int = 128,
        depth: int = 2, num_classes: int = 10,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Linear(in_features, dim)
        self.layers = nn.Sequential(*(EncoderLayer(dim, heads, hidden) for _ in range(depth)))
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.embed(x)).mean(dim=1))


def transformer_encoder() -> nn.Module:
    """A 2-layer, 4-head, 64-wide encoder over 16 tokens of 32 features, in eval mode."""
    _seeded(0)
    return TransformerEncoder().eval()


def transformer_encoder_inputs() -> tuple[torch.Tensor]:
    """A batch of 2 sequences of 16 tokens with 32 features: ``(2, 16, 32)``."""
    return (torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(1)),)


# --- a ViT-tiny-sized vision transformer from torch.nn's own layers ------------------------------


class ViTTiny(nn.Module):
    """A vision transformer on 32x32 RGB images: 4x4 patches (64 tokens) embedded to 64
    features by a strided convolution, a class token and learned position embeddings, 2
    ``nn.TransformerEncoderLayer`` blocks (4 heads, MLP 128, pre-norm, GELU; their attention is
    ``nn.MultiheadAttention``, i.e. ``scaled_dot_product_attention``), a LayerNorm and a linear
    head over 10 classes on the class token."""

    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4, classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 65, dim))
        layer = nn.TransformerEncoderLayer(
            dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


def vit_tiny() -> nn.Module:
    """The ViT-tiny-sized transformer with seeded (untrained) weights, in eval mode."""
    _seeded(0)
    model = ViTTiny().eval()
    with torch.no_grad():
        model.cls.normal_(std=0.02)
        model.pos.normal_(std=0.02)
    return model


def vit_tiny_inputs() -> tuple[torch.Tensor]:
    """One 32x32 RGB image: ``(1, 3, 32, 32)``."""
    return (torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)),)


# --- a tiny residual block (the hand-computed buffer-model example of docs/workload.md) ----------


class ResidualBlock(nn.Module):
    """``flatten(x + conv2(relu(conv1(x))))`` on 2 channels (``skip=False`` drops ``x +``)."""

    def __init__(self, skip: bool = True) -> None:
        super().__init__()
        self.skip = skip
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.relu(self.conv1(x)))
        return torch.flatten(x + y if self.skip else y, 1)


def residual_block() -> nn.Module:
    """The residual block with seeded weights, in eval mode."""
    _seeded(0)
    return ResidualBlock().eval()


def residual_block_inputs() -> tuple[torch.Tensor]:
    """A ``(1, 2, 4, 4)`` input."""
    return (torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(1)),)
