"""`pipeline.adamw`: torch's AdamW with the fused kernel, the same update, and a fallback."""

from __future__ import annotations

import pytest
import torch

from course_utils import pipeline


def _trained(optimizer_factory, steps: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(64, 32))
    optimizer = optimizer_factory([weight])
    for _ in range(steps):
        (weight.sin() ** 2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    return weight.detach()


def test_it_is_torchs_adamw_with_the_fused_kernel_over_exactly_the_given_parameters() -> None:
    params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))]
    optimizer = pipeline.adamw(iter(params), 1e-3)  # any iterable, e.g. model.parameters()
    assert type(optimizer) is torch.optim.AdamW
    group = optimizer.param_groups[0]
    assert group["fused"] is True and group["lr"] == 1e-3 and group["weight_decay"] == 0.01
    assert group["params"] == params


def test_the_update_is_the_default_adamws_up_to_rounding() -> None:
    fused = _trained(lambda params: pipeline.adamw(params, 0.05))
    default = _trained(lambda params: torch.optim.AdamW(params, lr=0.05))
    moved = (fused - _trained(lambda params: torch.optim.SGD(params, lr=0.0))).abs().max()
    assert moved > 0.1  # the optimizer did move the weights
    assert torch.allclose(fused, default, rtol=0, atol=1e-5)


def test_without_a_fused_kernel_it_falls_back_to_the_default(monkeypatch) -> None:
    real = torch.optim.AdamW

    def no_fused_kernel(params, lr, **options):
        if options.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return real(params, lr=lr, **options)

    monkeypatch.setattr(torch.optim, "AdamW", no_fused_kernel)
    optimizer = pipeline.adamw([torch.nn.Parameter(torch.zeros(3))], 1e-3)
    assert isinstance(optimizer, real) and not optimizer.param_groups[0]["fused"]


@pytest.mark.parametrize("bad", [[], iter([])])
def test_no_parameters_is_torchs_own_clear_error(bad) -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        pipeline.adamw(bad, 1e-3)
