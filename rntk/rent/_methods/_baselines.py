"""Competing example-selection methods that ReNT is compared with.

Each backpropagates about r(e) N samples at epoch e, ReNT's count, so that
the comparison is at equal backward cost: Selective-Backprop (Jiang et al.
2019), Online Batch Selection (Loshchilov & Hutter 2015) and RHO-LOSS
(Mindermann et al. 2022).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .._batching import epoch_rng, scan_chunk
from .._losses import loss, per_sample_loss
from .._selection import n_selected
from ._base import Strategy, all_losses

__all__ = ["SelectiveBackprop", "OnlineBatchSelection", "RhoLoss", "obs_draw", "SB_HISTORY"]

SB_HISTORY = 1024  # losses remembered by Selective-Backprop's percentile


class SelectiveBackprop(Strategy):
    """Forward every batch, backpropagate the samples whose loss percentile,
    against the recently seen losses, is in the top r(e)."""

    def __init__(self, run):
        super().__init__(run)
        self.seen = None  # the last SB_HISTORY losses, oldest first
        self._ratio = 1.0

    def select(self, epoch, ratio, record):
        self.subset = ("ids", np.arange(self.run.n))
        self._ratio = ratio

    def filter_batch(self, ids):
        model = self.run.model
        model.eval()
        per = self.run.losses(model, ids)
        model.train()
        seen = (self.seen or []) + per.tolist()
        ref = np.array(seen)
        pct = np.searchsorted(np.sort(ref), per, side="right") / len(ref)
        keep = pct >= 1.0 - self._ratio
        if not keep.any():
            keep[np.argmax(per)] = True
        self.seen = seen[-SB_HISTORY:]
        self.run.history.totals.forward_samples += len(ids)
        return ids[keep]

    def state_dict(self):
        return {**super().state_dict(), **({} if self.seen is None else {"sb_losses": self.seen})}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.seen = state.get("sb_losses")


def obs_draw(cfg, epoch, r, state, model, batcher, n, classification, element, tot):
    """Online Batch Selection's ceil(r N) samples of epoch ``epoch``: ("ids", sorted ids).

    Samples are ranked by their latest known loss, ``state["obs_loss"]`` (a
    full no-grad pass every ``obs_refresh`` epochs, counted in ``tot``,
    otherwise the loss seen when last trained on) and drawn without
    replacement with probability proportional to exp(-log(s_e) rank / N),
    s_e falling geometrically from obs_pressure[0] to obs_pressure[1].
    """
    if "obs_loss" not in state or epoch % cfg.obs_refresh == 0:
        model.eval()
        state["obs_loss"] = all_losses(model, batcher, n, scan_chunk(cfg.batch_size), classification, element)
        model.train()
        tot.forward_samples += n
    s0, s1 = cfg.obs_pressure
    frac = epoch / max(1, cfg.epochs - 1)
    s_e = s0 * (s1 / s0) ** frac
    rank = np.empty(n)
    rank[np.argsort(-state["obs_loss"], kind="stable")] = np.arange(n)
    w = np.exp(-np.log(s_e) * rank / n)
    k = n_selected(r, n)
    ids = epoch_rng(cfg.seed, epoch, "twin").choice(n, size=k, replace=False, p=w / w.sum())
    return ("ids", np.sort(ids))


class OnlineBatchSelection(Strategy):
    """OBS: a fresh draw every epoch favouring high recent losses (see :func:`obs_draw`)."""

    def __init__(self, run):
        super().__init__(run)
        self.state = {}  # "obs_loss": the latest known loss of every sample

    def select(self, epoch, ratio, record):
        r = self.run
        self.subset = obs_draw(r.cfg, epoch, ratio, self.state, r.model, r.batcher, r.n, r.classification, r.element,
                               r.history.totals)
        r.record_selection(epoch, self.subset[1], record, store=False)

    def observe(self, ids, out, y, lengths):
        self.state["obs_loss"][np.asarray(ids)] = per_sample_loss(out, y, lengths, self.run.classification,
                                                                  self.run.element).cpu().numpy()

    def state_dict(self):
        return {**super().state_dict(), **self.state}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.state = {"obs_loss": state["obs_loss"]} if "obs_loss" in state else {}


class RhoLoss(Strategy):
    """RHO-LOSS: from candidate groups, the samples of largest reducible loss
    (current training loss minus the loss of an irreducible-loss model trained
    on a held-out part of the training set, which is never trained on)."""

    def __init__(self, run):
        super().__init__(run)
        self.pool = self.il = None

    def select(self, epoch, ratio, record):
        if self.il is None:
            self.pool, self.il = self._setup()
        self.subset = self._draw(epoch, ratio)
        self.run.record_selection(epoch, self.subset[1], record, store=False)

    def _setup(self):
        """The training pool, and the irreducible loss of every training sample
        under a fresh copy of the model trained on the held-out rest (its cost counts)."""
        run, cfg = self.run, self.run.cfg
        perm = run.rng(0, "twin").permutation(run.n)
        n_hold = max(1, int(round(cfg.rho_holdout * run.n)))
        hold, pool = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
        il = copy.deepcopy(run.model)
        # fork: the irreducible-loss model's initialisation leaves the caller's torch RNG alone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 7919)
            for mod in il.modules():
                if mod is not il and hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
        opt = torch.optim.Adam(il.parameters(), lr=cfg.lr)
        il.train()
        tot = run.history.totals
        for ep in range(cfg.rho_il_epochs):
            order = run.rng(ep, "order").permutation(hold)
            for i in range(0, len(order), cfg.batch_size):
                ids = order[i : i + cfg.batch_size]
                x, lengths, y = run.batcher.get(ids)
                opt.zero_grad(set_to_none=True)
                loss(il(x, lengths), y, lengths, run.classification, run.element).backward()
                opt.step()
                tot.forward_samples += len(ids)
                tot.backward_samples += len(ids)
        il.eval()
        return pool, run.losses_all(il)

    def _draw(self, epoch, ratio):
        """ceil(r |pool|) samples: from each group of rho_candidates x batch_size
        pool samples (passes over the shuffled pool), the batch_size with the
        largest reducible loss, until the budget is reached."""
        run, cfg, pool = self.run, self.run.cfg, self.pool
        budget = n_selected(ratio, len(pool))
        rng = run.rng(epoch, "twin")
        group = min(cfg.rho_candidates * cfg.batch_size, len(pool))
        keep, kept, order = [], 0, np.zeros(0, dtype=np.int64)
        run.model.eval()
        while kept < budget:
            if len(order) < group:  # a fresh pass over the pool (a sample may be kept twice in an epoch)
                order = np.concatenate([order, rng.permutation(pool)])
            cand, order = order[:group], order[group:]
            cur = run.losses(run.model, cand)
            run.history.totals.forward_samples += len(cand)
            take = min(cfg.batch_size, budget - kept)
            keep.append(cand[np.argsort(-(cur - self.il[cand]), kind="stable")[:take]])
            kept += take
        run.model.train()
        return ("ids", np.sort(np.concatenate(keep)))

    def state_dict(self):
        extra = {} if self.il is None else {"rho_pool": self.pool, "rho_il": self.il}
        return {**super().state_dict(), **extra}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.pool, self.il = state.get("rho_pool"), state.get("rho_il")
