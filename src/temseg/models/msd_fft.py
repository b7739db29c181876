"""Fast MSD-net forward and backward: one feature buffer, convolutions in Fourier space.

Why this is fast. Every MSD layer is a k×k convolution with its own
dilation, reading all earlier channels and writing ``width`` new ones. Done
directly that is ~1,300 single-output-channel dilated convolutions per
step, which CPU kernels run at a few GFLOP/s (and their backward slower
still). Here each channel is reflection-padded once by the largest reach
P = (k // 2) · max(dilation) — reflecting an index does not depend on how far
one pads, so the one padded copy serves every dilation — and transformed
once (``rfft2``). A layer then costs one multiply-accumulate per earlier
channel and frequency, X̂_c · K̂_{i,c}, instead of k² per pixel, plus one
inverse and one forward FFT for its own output; its kernel spectrum K̂_{i,c}
is built from the k² taps with two small separable DFT matrices. Wrap-around
cannot reach the kept pixels because the FFT grid is at least H + 2P.

Memory. The forward pass keeps one real buffer (B, C₀ + D·w, H, W) and its
spectrum; the backward pass (:class:`MSDFunction`) walks the layers in
reverse with one gradient-spectrum buffer of the same size, so nothing
grows quadratically with depth, in training too.

The results equal direct convolution with reflection padding (the naive
reference :func:`temseg.models.msdnet.msd_forward_naive`) to float32
round-off of the FFTs (~1e-6 in float32, as accurate as direct convolution
against a float64 reference; float64 inputs are computed in complex128).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def fft_size(n: int) -> int:
    """Smallest m >= n whose prime factors are 2, 3, 5 and 7 (fast FFT lengths)."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


class _Geometry:
    """Padding, FFT grid and per-dilation DFT matrices for one input size."""

    def __init__(self, h: int, w: int, kernel_size: int, dilations, device,
                 dtype=torch.float32) -> None:
        self.h, self.w = h, w
        self.cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        self.r = kernel_size // 2
        self.pad = self.r * max(dilations)
        self.ny = fft_size(h + 2 * self.pad)
        self.nx = fft_size(w + 2 * self.pad)
        self.nxh = self.nx // 2 + 1
        t = torch.arange(kernel_size, device=device, dtype=torch.float64) - self.r
        fy = torch.arange(self.ny, device=device, dtype=torch.float64)
        fx = torch.arange(self.nxh, device=device, dtype=torch.float64)
        self.ey, self.ex = {}, {}
        for d in set(dilations):
            self.ey[d] = torch.exp(2j * math.pi * torch.outer(fy, t * d) / self.ny).to(
                self.cdtype)
            self.ex[d] = torch.exp(2j * math.pi * torch.outer(fx, t * d) / self.nx).to(
                self.cdtype)
        # weights of the half-spectrum columns in a full-spectrum sum
        alpha = torch.full((self.nxh,), 2.0, device=device, dtype=dtype)
        alpha[0] = 1.0
        if self.nx % 2 == 0:
            alpha[-1] = 1.0
        self.alpha = alpha

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """(B, c, H, W) real → (B, c, ny, nxh) spectrum of the reflect-padded image."""
        p = self.pad
        xp = F.pad(x, (p, p, p, p), mode="reflect") if p else x
        return torch.fft.rfft2(xp, s=(self.ny, self.nx))

    def image(self, spec: torch.Tensor) -> torch.Tensor:
        """Inverse of the correlation result: kept (H, W) pixels of ``irfft2(spec)``."""
        p = self.pad
        return torch.fft.irfft2(spec, s=(self.ny, self.nx))[..., p:p + self.h, p:p + self.w]

    def pad_adjoint(self, spec: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Gradient w.r.t. the unpadded image from the spectrum of the padded-image gradient."""
        p = self.pad
        g = torch.fft.irfft2(spec, s=(self.ny, self.nx))[..., :self.h + 2 * p, :self.w + 2 * p]
        if not p:
            return g
        return torch.ops.aten.reflection_pad2d_backward(g.contiguous(), like, [p, p, p, p])

    def kernel_spectrum(self, weight: torch.Tensor, d: int) -> torch.Tensor:
        """(o, c, k, k) taps at dilation d → (o, c, ny, nxh) spectrum K̂ (correlation)."""
        a = torch.matmul(weight.to(self.cdtype), self.ex[d].T)  # (o, c, k, nxh)
        return torch.matmul(self.ey[d], a)                      # (o, c, ny, nxh)

    def kernel_grad(self, r: torch.Tensor, d: int) -> torch.Tensor:
        """Adjoint of :meth:`kernel_spectrum`: (o, c, ny, nxh) cross-spectrum → (o, c, k, k)."""
        a = torch.matmul(self.ey[d].T, r * self.alpha)          # (o, c, k, nxh)
        g = torch.matmul(a, self.ex[d])                          # (o, c, k, k)
        return g.real / (self.ny * self.nx)


def _accumulate(out: torch.Tensor, spec: torch.Tensor, kern: torch.Tensor) -> None:
    """out[b, o] += Σ_c spec[b, c] · kern[o, c] (per frequency), in place."""
    for o in range(kern.shape[0]):
        for c in range(kern.shape[1]):
            out[:, o].addcmul_(spec[:, c], kern[o, c])


def _push(grad_spec: torch.Tensor, g_hat: torch.Tensor, kern: torch.Tensor) -> None:
    """grad_spec[b, c] += Σ_o g_hat[b, o] · conj(kern[o, c]), in place."""
    kc = kern.conj()
    for c in range(kern.shape[1]):
        for o in range(kern.shape[0]):
            grad_spec[:, c].addcmul_(g_hat[:, o], kc[o, c])


def _cross(spec: torch.Tensor, g_hat: torch.Tensor) -> torch.Tensor:
    """Σ_b spec[b, c] · conj(g_hat[b, o]) per frequency → (o, c, ny, nxh)."""
    out = spec.new_zeros((g_hat.shape[1], *spec.shape[1:]))
    gc = g_hat.conj()
    for b in range(spec.shape[0]):
        for o in range(g_hat.shape[1]):
            out[o].addcmul_(spec[b], gc[b, o])
    return out


def msd_forward_buffers(x, weights, biases, dilations, kernel_size, width):
    """Forward pass into one buffer: returns (features (B, C₀+D·w, H, W), spectra, geometry)."""
    b, c0, h, w = x.shape
    geo = _Geometry(h, w, kernel_size, dilations, x.device, x.dtype)
    total = c0 + len(dilations) * width
    feats = x.new_empty((b, total, h, w))
    spec = torch.empty((b, total, geo.ny, geo.nxh), dtype=geo.cdtype, device=x.device)
    feats[:, :c0] = x
    spec[:, :c0] = geo.spectrum(x)
    acc = torch.empty((b, width, geo.ny, geo.nxh), dtype=geo.cdtype, device=x.device)
    for i, (wt, bias, d) in enumerate(zip(weights, biases, dilations)):
        ch = c0 + i * width
        acc.zero_()
        _accumulate(acc, spec[:, :ch], geo.kernel_spectrum(wt, d))
        pre = geo.image(acc) + bias.view(1, -1, 1, 1)
        out = feats[:, ch:ch + width]
        torch.clamp_min(pre, 0.0, out=out)
        spec[:, ch:ch + width] = geo.spectrum(out)
    return feats, spec, geo


class MSDFunction(torch.autograd.Function):
    """The whole MSD-net as one autograd node: one buffer forward, a reverse sweep backward.

    Runs in float32 (or float64) even under CUDA autocast: FFTs of half
    precision would lose the 1e-5 agreement with direct convolution.

    ``apply(x, final_weight, final_bias, meta, *weights_then_biases)`` with
    ``meta = (dilations, kernel_size, width)``.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, x, final_weight, final_bias, meta, *params):
        dilations, kernel_size, width = meta
        depth = len(dilations)
        weights, biases = params[:depth], params[depth:]
        feats, spec, geo = msd_forward_buffers(x, weights, biases, dilations, kernel_size, width)
        out = F.conv2d(feats, final_weight, final_bias)
        ctx.meta, ctx.geo = meta, geo
        ctx.save_for_backward(feats, spec, final_weight, *weights)
        return out

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_out):
        dilations, kernel_size, width = ctx.meta
        geo = ctx.geo
        feats, spec, final_weight, *weights = ctx.saved_tensors
        c0 = feats.shape[1] - len(dilations) * width
        wf = final_weight[:, :, 0, 0]
        g_feat = torch.einsum("bkhw,kc->bchw", grad_out, wf)
        # sums over B·H·W pixels: accumulate in float64, one image at a time
        g_final_w = sum(torch.einsum("khw,chw->kc", grad_out[b].double(), feats[b].double())
                        for b in range(feats.shape[0]))
        g_final_w = g_final_w.to(feats.dtype)[:, :, None, None]
        g_final_b = grad_out.double().sum((0, 2, 3)).to(feats.dtype)
        g_spec = torch.zeros_like(spec)
        g_weights, g_biases = [None] * len(dilations), [None] * len(dilations)
        p = geo.pad
        for i in reversed(range(len(dilations))):
            ch = c0 + i * width
            sl = slice(ch, ch + width)
            out = feats[:, sl]
            g = g_feat[:, sl] + geo.pad_adjoint(g_spec[:, sl], out)
            g = g * (out > 0)
            g_biases[i] = g.double().sum((0, 2, 3)).to(g.dtype)
            gp = F.pad(g, (p, geo.nx - geo.w - p, p, geo.ny - geo.h - p))
            g_hat = torch.fft.rfft2(gp)
            kern = geo.kernel_spectrum(weights[i], dilations[i])
            _push(g_spec[:, :ch], g_hat, kern)
            cross = _cross(spec[:, :ch], g_hat)
            g_weights[i] = geo.kernel_grad(cross, dilations[i]).to(weights[i].dtype)
        g_x = None
        if ctx.needs_input_grad[0]:
            x = feats[:, :c0]
            g_x = g_feat[:, :c0] + geo.pad_adjoint(g_spec[:, :c0], x)
        return (g_x, g_final_w, g_final_b, None, *g_weights, *g_biases)
