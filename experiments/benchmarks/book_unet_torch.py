"""The U-Net and the diffuser of "Deep Learning from Scratch 5" ch. 9, in the book's PyTorch style,
for the diffusion benchmarks only (never imported by gen_jax). Images are NCHW here."""

from __future__ import annotations


def build(device: str, *, num_labels: int | None = None):
  import torch
  import torch.nn as nn

  def pos_encoding(ts, output_dim):  # the book's interleaved sin / cos
    batch = len(ts)
    v = torch.zeros(batch, output_dim, device=ts.device)
    i = torch.arange(0, output_dim, device=ts.device)
    div_term = 10000 ** (i / output_dim)
    v[:, 0::2] = torch.sin(ts[:, None] / div_term[0::2])
    v[:, 1::2] = torch.cos(ts[:, None] / div_term[1::2])
    return v

  class ConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, time_embed_dim):
      super().__init__()
      self.convs = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(),
                                 nn.Conv2d(out_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU())
      self.mlp = nn.Sequential(nn.Linear(time_embed_dim, in_ch), nn.ReLU(), nn.Linear(in_ch, in_ch))

    def forward(self, x, v):
      n, c, _, _ = x.shape
      v = self.mlp(v).view(n, c, 1, 1)
      return self.convs(x + v)

  class UNet(nn.Module):
    def __init__(self, in_ch=1, time_embed_dim=100):
      super().__init__()
      self.time_embed_dim = time_embed_dim
      self.down1, self.down2 = ConvBlock(in_ch, 64, time_embed_dim), ConvBlock(64, 128, time_embed_dim)
      self.bot1 = ConvBlock(128, 256, time_embed_dim)
      self.up2, self.up1 = ConvBlock(128 + 256, 128, time_embed_dim), ConvBlock(128 + 64, 64, time_embed_dim)
      self.out = nn.Conv2d(64, in_ch, 1)
      self.maxpool = nn.MaxPool2d(2)
      self.upsample = nn.Upsample(scale_factor=2, mode="bilinear")
      if num_labels is not None:
        self.label_emb = nn.Embedding(num_labels, time_embed_dim)

    def forward(self, x, timesteps, labels=None):
      v = pos_encoding(timesteps, self.time_embed_dim)
      if labels is not None:
        v = v + self.label_emb(labels)
      x1 = self.down1(x, v)
      x = self.maxpool(x1)
      x2 = self.down2(x, v)
      x = self.maxpool(x2)
      x = self.bot1(x, v)
      x = self.upsample(x)
      x = self.up2(torch.cat([x, x2], dim=1), v)
      x = self.upsample(x)
      x = self.up1(torch.cat([x, x1], dim=1), v)
      return self.out(x)

  class Diffuser:
    def __init__(self, num_timesteps=1000, beta_start=0.0001, beta_end=0.02):
      self.num_timesteps = num_timesteps
      self.betas = torch.linspace(beta_start, beta_end, num_timesteps, device=device)
      self.alphas = 1 - self.betas
      self.alpha_bars = torch.cumprod(self.alphas, dim=0)

    def add_noise(self, x_0, t):
      alpha_bar = self.alpha_bars[t - 1].view(-1, 1, 1, 1)
      noise = torch.randn_like(x_0, device=device)
      return torch.sqrt(alpha_bar) * x_0 + torch.sqrt(1 - alpha_bar) * noise, noise

    def denoise(self, model, x, t):
      idx = t - 1
      alpha, alpha_bar = self.alphas[idx], self.alpha_bars[idx]
      alpha_bar_prev = self.alpha_bars[idx - 1]
      n = alpha.size(0)
      alpha, alpha_bar, alpha_bar_prev = (a.view(n, 1, 1, 1) for a in (alpha, alpha_bar, alpha_bar_prev))
      model.eval()
      with torch.no_grad():
        eps = model(x, t)
      model.train()
      noise = torch.randn_like(x, device=device)
      noise[t == 1] = 0
      mu = (x - ((1 - alpha) / torch.sqrt(1 - alpha_bar)) * eps) / torch.sqrt(alpha)
      std = torch.sqrt((1 - alpha) * (1 - alpha_bar_prev) / (1 - alpha_bar))
      return mu + noise * std

    def sample(self, model, x_shape=(20, 1, 28, 28)):
      x = torch.randn(x_shape, device=device)
      for i in range(self.num_timesteps, 0, -1):
        t = torch.tensor([i] * x_shape[0], device=device, dtype=torch.long)
        x = self.denoise(model, x, t)
      return x

  return UNet().to(device), Diffuser()
