"""Packed sequences: the tokens of a batch's texts in one row, without padding, for training.

Padded to the longest of each length-sorted chunk of 8, a training batch of the default study is a fifth padding
(docs/speed.md), and a padded token costs what a real one does in every matrix product, layer norm, GELU and
dropout mask. Every layer of a BERT-style encoder (BERT, XLM-R, E5, LaBSE) works token by token except attention,
so here the texts go through the transformer as one row of their real tokens (each with its own position ids), and
only attention sees padding: it gathers the row's queries, keys and values into padded blocks of a few
length-sorted texts (`block_size`), attends within each text, and scatters the results back into the row.

The arithmetic is the padded forward's: embeddings equal it within float rounding (tests/test_packing.py).
`attention` is the transformers attention implementation that does this (`ATTENTION`, which `prepare` gives a model);
a model given no `packing` attends as transformers' sdpa attention does, so a prepared encoder still encodes padded
batches alike. Which encoders packing covers, and how each numbers its positions, is decided by their
family (`families.Family.packable`: BERT, RoBERTa and XLM-R of transformers' own code, with absolute position embeddings).

A packed row needs no attention mask, and `mask` makes sure transformers builds none: from 5.25 on, a BERT given
position ids and no mask detects the packed texts and would build a tokens x tokens mask over the whole row (2 GB for
64 texts of 512 tokens in bf16) that `attention` never reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import families, private_apis
from .dropout import apply_dropout

ATTENTION = "xlretrieval_packed"  # the transformers attention implementation registered below


@dataclass(frozen=True)
class Block:
    """Texts that attend in one padded block: `rows` (texts x longest length) index the packed row (padding points at
    token 0 and is masked); `keys` says which positions are real (True), `bias` is 0 there and -inf elsewhere."""

    rows: torch.Tensor
    keys: torch.Tensor
    bias: torch.Tensor


@dataclass(frozen=True)
class Packing:
    """Where each text's tokens lie in a packed row (`text_of_token`, `starts`, `lengths`), the attention `blocks`, and
    `unpack`: the positions in the blocks' concatenated padded outputs that hold the row's tokens, in row order."""

    lengths: torch.Tensor
    starts: torch.Tensor
    text_of_token: torch.Tensor
    blocks: tuple[Block, ...]
    unpack: torch.Tensor

    @classmethod
    def of(cls, lengths: list[int], block_size: int, device: torch.device | str = "cpu") -> Packing:
        """The packing of texts of `lengths` tokens (in row order; sort them by length to keep the blocks' padding
        low), attending in blocks of `block_size` consecutive texts."""
        sizes = torch.tensor(lengths)
        starts = torch.cumsum(sizes, 0) - sizes
        blocks, unpack, offset = [], [], 0
        for first in range(0, len(lengths), block_size):
            block_lengths, block_starts = sizes[first : first + block_size], starts[first : first + block_size]
            width = int(block_lengths.max())
            positions = torch.arange(width)
            keys = positions < block_lengths[:, None]
            rows = (block_starts[:, None] + positions).where(keys, 0)
            blocks.append(Block(rows.to(device), keys[:, None, None].to(device), _bias(keys).to(device)))
            unpack.append(offset + torch.nonzero(keys.flatten()).flatten())
            offset += keys.numel()
        text_of_token = torch.repeat_interleave(torch.arange(len(lengths)), sizes)
        return cls(sizes.to(device), starts.to(device), text_of_token.to(device), tuple(blocks), torch.cat(unpack).to(device))

    def position_ids(self, offset: int) -> torch.Tensor:
        """Each token's position in its text, plus `offset` (XLM-R numbers positions from its padding id + 1)."""
        return (torch.arange(len(self.text_of_token), device=self.starts.device) - self.starts[self.text_of_token] + offset)[None]

    def mean(self, hidden: torch.Tensor) -> torch.Tensor:
        """Each text's mean token vector, from the packed row's (tokens x features)."""
        sums = hidden.new_zeros(len(self.lengths), hidden.shape[-1]).index_add_(0, self.text_of_token, hidden)
        return sums / self.lengths[:, None].to(hidden.dtype)

    def first(self, hidden: torch.Tensor) -> torch.Tensor:
        """Each text's first token vector (CLS)."""
        return hidden[self.starts]


def _bias(keys: torch.Tensor) -> torch.Tensor:
    """An additive attention mask (texts x 1 x 1 x width): 0 on real keys, -inf on padding."""
    return torch.zeros(keys.shape, dtype=torch.float32).masked_fill_(keys.logical_not(), float("-inf"))[:, None, None]


def attend(query, key, value, block: Block, dropout: float, scaling: float) -> torch.Tensor:
    """Attention within each text of a padded block (texts x heads x width x head size in and out). With dropout on a
    CPU it is written out as transformers' eager attention (under autocast the products run in bf16) with
    `apply_dropout`'s masks; otherwise it is torch's sdpa."""
    if dropout == 0 or query.device.type != "cpu":
        return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=block.keys, dropout_p=dropout, scale=scaling)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling + block.bias
    return torch.matmul(apply_dropout(torch.softmax(scores, dim=-1), dropout), value)


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None, packing: Packing | None = None, **kw):
    """transformers' attention interface: with `packing`, the packed row's attention (queries, keys and values
    1 x heads x tokens x head size; out 1 x tokens x heads x head size); without, transformers' sdpa attention."""
    if packing is None:
        return private_apis.sdpa_attention(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kw)
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    tokens = [x[0].transpose(0, 1) for x in (query, key, value)]  # tokens x heads x head size
    outputs = []
    for block in packing.blocks:
        texts, width = block.rows.shape
        gathered = [x.index_select(0, block.rows.flatten()).view(texts, width, *x.shape[1:]).transpose(1, 2) for x in tokens]
        outputs.append(attend(*gathered, block, dropout, scaling).transpose(1, 2).flatten(0, 1))
    return torch.cat(outputs).index_select(0, packing.unpack)[None], None


def mask(*args, attention_mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor | None:
    """transformers' attention mask interface for `ATTENTION`: sdpa's mask for a padded batch (given its padding mask),
    none for a forward pass given no padding mask. That is a packed row, whose texts `attention` keeps apart by itself,
    or a batch without padding, in which every token of these bidirectional encoders sees every other (sdpa's mask is
    none there too)."""
    if attention_mask is None:
        return None
    return private_apis.sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def prepare(transformer: torch.nn.Module, family: families.Family) -> None:
    """Give a transformers encoder of `family` the attention above, for `forward` (packed rows when a forward pass is
    given `packing`). A family packing is not exact for is a ValueError: packing could mix its texts."""
    if not family.packable:
        exact = ", ".join(name for name, architecture in families.ARCHITECTURES.items() if architecture.packs)
        raise ValueError(
            f"packing a batch's texts into one row (xlretrieval.packing) is exact for {exact} encoders of transformers' own code "
            f"with absolute positions; this model is '{family.model_type}': encode and train it in padded batches"
        )
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(ATTENTION, attention)
    AttentionMaskInterface.register(ATTENTION, mask)
    transformer.set_attn_implementation(ATTENTION)


def prepared(transformer: torch.nn.Module) -> bool:
    """Whether `transformer` attends through `ATTENTION` (`prepare`)."""
    return private_apis.attention_implementation(transformer) == ATTENTION


def forward(transformer: torch.nn.Module, input_ids: list[list[int]], block_size: int, position_offset: int) -> tuple[torch.Tensor, Packing]:
    """The last hidden states of a `prepare`d transformer for texts' token ids packed in one row (tokens x features),
    and the packing (to pool them); `position_offset` is its family's (`families.Family.position_offset`). A transformer
    not prepared is a ValueError: its attention would mix the texts."""
    if not prepared(transformer):
        raise ValueError(
            f"this transformer attends through '{private_apis.attention_implementation(transformer)}', not packed attention: "
            "prepare it for packing first (packing.prepare; BiEncoder.for_training or for_inference with model.kernels: auto)"
        )
    device = transformer.device
    packing = Packing.of([len(ids) for ids in input_ids], block_size, device)
    row = torch.tensor([token for ids in input_ids for token in ids], device=device)[None]
    hidden = transformer(input_ids=row, position_ids=packing.position_ids(position_offset), packing=packing).last_hidden_state
    return hidden[0], packing
