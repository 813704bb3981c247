"""Each objective against a hand computation on tiny tensors."""

import math

import pytest
import torch

from skullvae.objectives import BalancedObjective, BetaObjective, MoGObjective, SigmaObjective, build_objective
from skullvae.objectives.base import kl_normal
from skullvae.objectives.mog import moment_matched_kl, variance_penalty
from skullvae.objectives.reconstruction import bce_mean, hard_dice, soft_dice_loss
from skullvae.errors import SkullVAEError

# two "volumes" of 4 voxels each, shape [B=2, 1, 1, 2, 2]
LOGITS = torch.tensor([[0.0, 2.0, -1.0, 0.5], [1.0, -2.0, 0.0, 3.0]]).reshape(2, 1, 1, 2, 2)
TARGET = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0]]).reshape(2, 1, 1, 2, 2)
MU = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
LOGVAR = torch.tensor([[0.0, math.log(0.5)], [math.log(2.0), 0.0]])


def _sig(v):
    return 1 / (1 + math.exp(-v))


def _hand_bce():
    out = []
    for b in range(2):
        lo, t = LOGITS[b].flatten().tolist(), TARGET[b].flatten().tolist()
        out.append(sum(-(ti * math.log(_sig(li)) + (1 - ti) * math.log(1 - _sig(li))) for li, ti in zip(lo, t)) / 4)
    return out


def _hand_dice():
    out = []
    for b in range(2):
        p = [_sig(v) for v in LOGITS[b].flatten().tolist()]
        t = TARGET[b].flatten().tolist()
        out.append(1 - (2 * sum(a * c for a, c in zip(p, t)) + 1) / (sum(p) + sum(t) + 1))
    return out


def _hand_kl():
    out = []
    for b in range(2):
        out.append(0.5 * sum(m * m + math.exp(lv) - 1 - lv for m, lv in zip(MU[b].tolist(), LOGVAR[b].tolist())))
    return out


def _hand_mse():
    out = []
    for b in range(2):
        p = [_sig(v) for v in LOGITS[b].flatten().tolist()]
        out.append(sum((a - c) ** 2 for a, c in zip(p, TARGET[b].flatten().tolist())) / 4)
    return out


def test_terms():
    assert torch.allclose(bce_mean(LOGITS, TARGET), torch.tensor(_hand_bce()), atol=1e-6)
    assert torch.allclose(soft_dice_loss(LOGITS, TARGET), torch.tensor(_hand_dice()), atol=1e-6)
    assert torch.allclose(kl_normal(MU, LOGVAR), torch.tensor(_hand_kl()), atol=1e-6)
    # thresholded: sample 0 predicts {1,3} vs target {1,3} -> 1; sample 1 predicts {0,3} vs {0,2,3} -> 0.8
    assert torch.allclose(hard_dice(LOGITS, TARGET), torch.tensor([1.0, 0.8]))


def test_beta():
    loss, logs = BetaObjective(beta=3.0, dice_weight=0.5)(LOGITS, TARGET, MU, LOGVAR, 0)
    recon = sum(4 * (b + 0.5 * d) for b, d in zip(_hand_bce(), _hand_dice())) / 2
    expected = recon + 3.0 * sum(_hand_kl()) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert logs["kl"] == pytest.approx(sum(_hand_kl()) / 2, rel=1e-5)


def _softclip(x, m):
    return m + math.log1p(math.exp(x - m))


def test_sigma():
    mse = sum(_hand_mse()) / 2
    log_sigma = _softclip(0.5 * math.log(mse), -6.0)  # the paper's optimal_sigma_vae: softclip(log sqrt(MSE), -6)
    expected = 4 * log_sigma + 4 / (2 * math.exp(2 * log_sigma)) * mse + sum(_hand_kl()) / 2
    loss, logs = SigmaObjective()(LOGITS, TARGET, MU, LOGVAR, 0)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert logs["sigma"] == pytest.approx(math.exp(log_sigma), rel=1e-5)
    # the soft floor on ln sigma binds for a perfect reconstruction
    perfect = (TARGET * 40 - 20)
    loss, logs = SigmaObjective(log_sigma_min=-2.0)(perfect, TARGET, MU, LOGVAR, 0)
    assert logs["sigma"] == pytest.approx(math.exp(-2.0), rel=1e-4)
    # ... and it is soft: at ln sqrt(MSE) == floor, ln sigma = floor + ln 2 (a hard clamp gives the floor)
    at_floor = 0.5 * math.log(mse)
    loss, logs = SigmaObjective(log_sigma_min=at_floor)(LOGITS, TARGET, MU, LOGVAR, 0)
    assert math.log(logs["sigma"]) == pytest.approx(at_floor + math.log(2.0), rel=1e-5)


def _reference_balanced(batch_mses, start):
    """asperti/BalancingVAE computed_gamma.py: the step uses gamma from m, then m = min(m, .99 m + .01 b)."""
    m, used = start, []
    for b in batch_mses:
        used.append(m)
        m = min(m, m * .99 + b * .01)
    return used, m


def test_balanced_running_gamma():
    obj = BalancedObjective(k=2.0)
    mse1 = sum(_hand_mse()) / 2
    loss, logs = obj(LOGITS, TARGET, MU, LOGVAR, 0)
    sse = 4 * mse1
    assert float(loss) == pytest.approx(sse / (2 * mse1) + 4 * 0.5 * math.log(mse1) + 2.0 * sum(_hand_kl()) / 2, rel=1e-5)
    # worse batches never raise gamma; a better one lowers it from the clipped estimate at once
    worse, better = -LOGITS * 3, LOGITS * 10
    batches = [LOGITS, worse, worse, worse, better, better]
    mses = [float(((torch.sigmoid(b) - TARGET) ** 2).mean()) for b in batches]
    used, final = _reference_balanced(mses, mses[0])
    obj = BalancedObjective()
    seen = []
    for i, b in enumerate(batches):
        _, logs = obj(b, TARGET, MU, LOGVAR, i)
        seen.append(logs["gamma"] ** 2)
    assert seen == pytest.approx(used, rel=1e-6)
    assert obj.gamma2 == pytest.approx(final, rel=1e-6)
    assert used[4] == used[1] and final < used[4]  # the three worse batches left it where it was
    # an unclipped EMA (the code before this fix) would still be above the first MSE here
    ema = mses[0]
    for b in mses[1:]:
        ema = 0.99 * ema + 0.01 * b
    assert ema > mses[0] > final
    restored = BalancedObjective()
    restored.load_state_dict(obj.state_dict())
    assert restored.gamma2 == obj.gamma2 and restored.running_mse == obj.running_mse


def test_mog_terms_and_warmup():
    # moments of the means: m = (0.25, 0.5), unbiased var = (0.125, 4.5)
    m, s2 = [0.25, 0.5], [0.125, 4.5]
    kl_mm = 0.5 * sum(a * a + v - 1 - math.log(v) for a, v in zip(m, s2))
    assert float(moment_matched_kl(MU)) == pytest.approx(kl_mm, rel=1e-5)
    var = [[1.0, 0.5], [2.0, 1.0]]
    pen = sum(sum(v - math.log(v) - 1 for v in row) for row in var) / 2
    assert float(variance_penalty(LOGVAR)) == pytest.approx(pen, rel=1e-5)
    obj = MoGObjective(warmup=10, adv_weight=0.5)
    loss, logs = obj(LOGITS, TARGET, MU, LOGVAR, 0)
    recon = sum(4 * (b + d) for b, d in zip(_hand_bce(), _hand_dice())) / 2
    assert logs["adv"] == 0.0
    assert float(loss) == pytest.approx(recon + kl_mm + 0.1 * pen, rel=1e-5)
    assert obj._adv_lambda(9) == 0.0 and obj._adv_lambda(14) == pytest.approx(0.25) and obj._adv_lambda(100) == 0.5
    # second call: the memory bank holds the previous means, so moments use 4 rows
    loss2, logs2 = obj(LOGITS, TARGET, MU * 0.5, LOGVAR, 1)
    assert logs2["kl_mm"] == pytest.approx(float(moment_matched_kl(torch.cat([MU * 0.5, MU]))), rel=1e-5)


def test_unknown_objective():
    with pytest.raises(SkullVAEError, match="unknown objective"):
        build_objective("nope")
