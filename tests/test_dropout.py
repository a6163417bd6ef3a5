import pytest
import torch

from xlretrieval import dropout
from xlretrieval import model as bi

NAME = "sentence-transformers/all-MiniLM-L6-v2"
CPU = torch.device("cpu")


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_every_element_is_dropped_with_the_drawn_probability_independently_of_its_place(p):
    torch.manual_seed(0)
    count = 4_000_000
    kept = dropout.keep_mask((count // 4, 4), p)
    drawn = dropout.drawn_probability(p)
    assert abs(drawn - p) <= 2**-16
    sigma = (drawn * (1 - drawn) / (count // 4)) ** 0.5
    # each of the four 15-bit draws a random word gives (the last one holds the word's top bits) drops alike
    for lane, rate in enumerate(1 - kept.float().mean(0)):
        assert abs(rate.item() - drawn) < 5 * sigma, f"draw {lane} of a word"
    # neighbours are independent: both dropped with probability p^2
    both = (~kept[:, :2]).all(1).float().mean().item()
    assert abs(both - drawn**2) < 5 * (drawn**2 * (1 - drawn**2) / (count // 4)) ** 0.5


def test_masks_follow_the_seed():
    torch.manual_seed(3)
    first = dropout.keep_mask((64, 33), 0.1)
    torch.manual_seed(3)
    assert torch.equal(dropout.keep_mask((64, 33), 0.1), first)
    assert not torch.equal(dropout.keep_mask((64, 33), 0.1), first)
    assert dropout.keep_mask((5, 7), 0.0).all()


def test_fast_dropout_scales_what_it_keeps_and_passes_gradients_through_the_same_mask():
    layer = dropout.FastDropout(0.1).train()
    x = (torch.rand(300, 200, dtype=torch.float64) + 1).requires_grad_()
    torch.manual_seed(0)
    y = layer(x)
    kept = y != 0
    scale = 1 / (1 - dropout.drawn_probability(0.1))
    torch.testing.assert_close(y[kept], x[kept] * scale)
    assert 0.08 < 1 - kept.double().mean().item() < 0.12
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.double() * scale)
    assert torch.equal(layer.eval()(x), x)


def test_applied_dropout_drops_where_the_mask_drawn_from_the_same_state_does():
    x = torch.rand(37, 29, dtype=torch.bfloat16) + 1
    torch.manual_seed(5)
    kept = dropout.keep_mask(x.shape, 0.1)
    torch.manual_seed(5)
    assert torch.equal(dropout.apply_dropout(x, 0.1) != 0, kept)
    torch.manual_seed(5)  # the kept elements are scaled as torch.nn.functional.dropout scales them, rounded alike
    assert torch.equal(dropout.apply_dropout(x, 0.1), x.masked_fill(~kept, 0) * (1 / (1 - dropout.drawn_probability(0.1))))


def test_an_encoder_with_fast_dropout_embeds_as_before_in_evaluation_and_drops_in_training(xquad):
    texts = xquad.candidates.text.head(12).tolist()
    encoder = bi.load(NAME, CPU).eval()
    with torch.no_grad():
        before = encoder.embed(texts)
        assert not dropout.own_masks(encoder.transformer)
        dropout.use_fast_dropout(encoder.transformer)
        assert dropout.own_masks(encoder.transformer)
        assert not any(type(module) is torch.nn.Dropout for module in encoder.modules())
        torch.testing.assert_close(encoder.embed(texts), before, atol=1e-6, rtol=0)
        encoder.train()
        torch.manual_seed(0)
        dropped = encoder.embed(texts)
        torch.manual_seed(0)
        torch.testing.assert_close(encoder.embed(texts), dropped)  # the seed decides the masks
        assert (dropped - before).abs().max() > 1e-3
