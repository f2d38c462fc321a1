"""Torch modules and losses of scACT (Xu, Liu, Zhang, CIKM 2024, section 2).

Two autoencoders (RNA: MLP; ATAC: split by chromosome), mapping networks f (RNA latent -> ATAC latent)
and g (ATAC latent -> RNA latent), and one discriminator per modality with one output ("head") per cell
type plus one unconditional head (used in label-free mode and by cells whose type exists in one modality
only). A head computes exactly what a separate per-type discriminator D^k would on the shared trunk.

:class:`ScactNetwork` also assembles the objective of each training phase from the loss functions at the
end of this file (``autoencoder_loss``, ``mapping_loss``, ``discriminator_loss``: named terms and the
``total`` to minimise), so :mod:`scact.model._training` only draws minibatches and steps optimizers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RNA_LIKELIHOODS = ("mse", "nb")


def mlp(dims, activation=nn.ReLU, last_activation: bool = False) -> nn.Sequential:
    """Linear layers between consecutive ``dims`` with ``activation`` (also after the last if asked)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(dims) - 2 or last_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


class RNAAutoencoder(nn.Module):
    """MLP autoencoder of log-normalised expression; the decoder also sees the confounders.

    ``likelihood`` ``mse`` (the paper): the decoder outputs log1p(CP10k) directly, loss MSE.
    ``nb``: the decoder outputs gene logits whose softmax is the cell's expression proportions; the loss is
    the negative binomial likelihood of the raw counts with mean proportion x library size and one inverse
    dispersion per gene (as in scVI), and :meth:`decode` returns log1p(1e4 x proportion), the same scale
    as ``mse``, so translations and the cycle through the latent spaces do not depend on the choice.
    """

    def __init__(self, n_genes: int, n_confounders: int, hidden=(256, 128), latent_dim: int = 20,
                 likelihood: str = "mse"):
        super().__init__()
        if likelihood not in RNA_LIKELIHOODS:
            raise ValueError(f"unknown RNA likelihood {likelihood!r}: use one of {RNA_LIKELIHOODS}")
        self.likelihood = likelihood
        self.encoder = mlp([n_genes, *hidden, latent_dim])
        self.decoder = mlp([latent_dim + n_confounders, *reversed(hidden), n_genes])
        if likelihood == "nb":
            self.log_theta = nn.Parameter(torch.zeros(n_genes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decoder_output(self, z: torch.Tensor, confounders: torch.Tensor) -> torch.Tensor:
        """Raw decoder output: log1p(CP10k) for ``mse``, gene logits for ``nb``."""
        return self.decoder(torch.cat([z, confounders], dim=1))

    def decode(self, z: torch.Tensor, confounders: torch.Tensor) -> torch.Tensor:
        out = self.decoder_output(z, confounders)
        if self.likelihood == "nb":
            return torch.log1p(1e4 * torch.softmax(out, dim=1))
        return out


class ChromosomeSplitEncoder(nn.Module):
    """Each chromosome's peaks feed only that chromosome's own MLP; the chromosome outputs merge into z.

    Peaks must be grouped by chromosome (contiguous columns, sizes in ``chromosome_sizes``). Each
    chromosome has its own ``nn.Linear(n_peaks_chr, hidden[0])``: there is no weight between a peak and
    another chromosome's units, so the cost is sum(n_peaks_chr) x hidden[0], not n_peaks x all units.

    The input may be a dense tensor or a sparse COO tensor (training minibatches: ATAC is ~99% zeros).
    The sparse path computes the same first layer with one sparse product: each nonzero (cell, peak) is
    sent to row ``cell * n_chromosomes + chromosome(peak)`` and multiplied by the stacked per-chromosome
    weights, giving every chromosome's pre-activation without touching the zeros.
    """

    def __init__(self, chromosome_sizes, hidden=(128, 64, 32), latent_dim: int = 20):
        super().__init__()
        self.chromosome_sizes = [int(n) for n in chromosome_sizes]
        # IDF weighting of the binary input (log1p(n_cells / (1 + cells with the peak)), set from the training
        # cells, saved with the model): rare peaks count more, as in LSI. Linear in x, so integrated
        # gradients from the zero baseline stay meaningful. See set_idf for the overall scale.
        self.register_buffer("peak_idf", torch.ones(sum(self.chromosome_sizes)))
        self.first = nn.ModuleList(nn.Linear(n, hidden[0]) for n in self.chromosome_sizes)
        self.blocks = nn.ModuleList(mlp([*hidden], last_activation=True) if len(hidden) > 1 else nn.Identity()
                                    for _ in self.chromosome_sizes)
        self.merge = nn.Linear(hidden[-1] * len(self.chromosome_sizes), latent_dim)
        chromosome_of_peak = torch.repeat_interleave(torch.arange(len(self.chromosome_sizes)),
                                                     torch.tensor(self.chromosome_sizes))
        self.register_buffer("chromosome_of_peak", chromosome_of_peak, persistent=False)

    def set_idf(self, n_cells: int, cells_per_peak: torch.Tensor) -> None:
        """IDF times one global constant that gives the weighted input unit mean square per peak.

        The default init of ``nn.Linear`` assumes dense unit-variance inputs; with ~0.5% of peaks open the
        first layer's signal was ~1/15 of that, far below its bias, and the ATAC latent stayed nearly
        constant across cells (SNARE-seq: cell-type accuracy at the majority rate). One constant keeps the
        input linear in x (integrated gradients from 0 unchanged in meaning).
        """
        idf = torch.log1p(n_cells / (1.0 + cells_per_peak.float()))
        mean_square = (cells_per_peak.float() / max(n_cells, 1) * idf ** 2).mean()
        self.peak_idf.copy_(idf / mean_square.clamp_min(1e-12).sqrt())

    def _first_layer_sparse(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x.coalesce()
        cells, peaks = x.indices()
        values = x.values() * self.peak_idf[peaks]
        n_chrom = len(self.chromosome_sizes)
        rows = cells * n_chrom + self.chromosome_of_peak[peaks]
        spread = torch.sparse_coo_tensor(torch.stack([rows, peaks]), values,
                                         (x.shape[0] * n_chrom, x.shape[1]), check_invariants=False)
        weight = torch.cat([layer.weight.T for layer in self.first])  # peaks x hidden, chromosome blocks
        pre = torch.sparse.mm(spread, weight).view(x.shape[0], n_chrom, -1)
        return [pre[:, i] + layer.bias for i, layer in enumerate(self.first)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_sparse:
            pre = self._first_layer_sparse(x)
        else:
            x = x * self.peak_idf
            pre = [layer(part) for layer, part in zip(self.first, x.split(self.chromosome_sizes, dim=1))]
        parts = [block(torch.relu(h)) for block, h in zip(self.blocks, pre)]
        return self.merge(torch.cat(parts, dim=1))


class ChromosomeSplitDecoder(nn.Module):
    """Mirror of :class:`ChromosomeSplitEncoder`: z (+ confounders) -> per-chromosome MLP -> peak logits."""

    def __init__(self, chromosome_sizes, n_confounders: int, hidden=(128, 64, 32), latent_dim: int = 20):
        super().__init__()
        self.chromosome_sizes = [int(n) for n in chromosome_sizes]
        self.unit = hidden[-1]
        self.expand = nn.Sequential(
            nn.Linear(latent_dim + n_confounders, self.unit * len(self.chromosome_sizes)), nn.ReLU())
        self.blocks = nn.ModuleList(mlp([*reversed(hidden), n]) for n in self.chromosome_sizes)

    def forward(self, z: torch.Tensor, confounders: torch.Tensor) -> torch.Tensor:
        hidden = self.expand(torch.cat([z, confounders], dim=1)).split(self.unit, dim=1)
        return torch.cat([block(h) for block, h in zip(self.blocks, hidden)], dim=1)


class ATACAutoencoder(nn.Module):
    """Chromosome-split autoencoder of binary accessibility; outputs logits (sigmoid gives probabilities)."""

    def __init__(self, chromosome_sizes, n_confounders: int, hidden=(128, 64, 32), latent_dim: int = 20):
        super().__init__()
        self.encoder = ChromosomeSplitEncoder(chromosome_sizes, hidden, latent_dim)
        self.decoder = ChromosomeSplitDecoder(chromosome_sizes, n_confounders, hidden, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, confounders: torch.Tensor) -> torch.Tensor:
        return self.decoder(z, confounders)


class LatentMapping(nn.Module):
    """MLP from one latent space to the other, working on standardised coordinates.

    The per-dimension mean/sd of both latent spaces are fixed once the autoencoders are trained
    (:meth:`set_latent_statistics`), so the adversarial game sees unit-scale inputs in both spaces.
    """

    def __init__(self, latent_dim: int = 20, hidden=(128, 128)):
        super().__init__()
        self.net = mlp([latent_dim, *hidden, latent_dim], activation=lambda: nn.LeakyReLU(0.2))
        for name in ("source_mean", "target_mean"):
            self.register_buffer(name, torch.zeros(latent_dim))
        for name in ("source_sd", "target_sd"):
            self.register_buffer(name, torch.ones(latent_dim))

    def set_latent_statistics(self, source: torch.Tensor, target: torch.Tensor) -> None:
        self.source_mean.copy_(source.mean(0))
        self.source_sd.copy_(source.std(0).clamp_min(1e-6))
        self.target_mean.copy_(target.mean(0))
        self.target_sd.copy_(target.std(0).clamp_min(1e-6))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.target_mean + self.target_sd * self.net((z - self.source_mean) / self.source_sd)


class Discriminator(nn.Module):
    """Shared trunk with one logit per head: head 0 unconditional, head 1 + k for cell type k."""

    def __init__(self, latent_dim: int, n_heads: int, hidden=(64, 64)):
        super().__init__()
        self.net = mlp([latent_dim, *hidden, n_heads], activation=lambda: nn.LeakyReLU(0.2))
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_sd", torch.ones(latent_dim))

    def set_latent_statistics(self, z: torch.Tensor) -> None:
        self.latent_mean.copy_(z.mean(0))
        self.latent_sd.copy_(z.std(0).clamp_min(1e-6))

    def forward(self, z: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
        logits = self.net((z - self.latent_mean) / self.latent_sd)
        return logits.gather(1, heads[:, None]).squeeze(1)


class ScactNetwork(nn.Module):
    """Every trainable part of scACT in one module, so one state dict holds the whole model.

    With ``n_classes`` > 0 each autoencoder gets a linear cell-type classifier on its latent
    (``rna.classifier``, ``atac.classifier``; weak supervision: labels per modality, no pairing). It makes
    both latents carry cell type, and in the mapping phase it classifies mapped embeddings (f(z_R) by the
    ATAC head, g(z_A) by the RNA head), which pushes each type onto the same type of the other modality.
    """

    def __init__(self, n_genes: int, chromosome_sizes, n_confounders: int, n_heads: int, latent_dim: int = 20,
                 rna_hidden=(256, 128), atac_hidden=(128, 64, 32), mapping_hidden=(128, 128),
                 discriminator_hidden=(64, 64), n_classes: int = 0, rna_likelihood: str = "mse"):
        super().__init__()
        self.rna = RNAAutoencoder(n_genes, n_confounders, rna_hidden, latent_dim, rna_likelihood)
        self.atac = ATACAutoencoder(chromosome_sizes, n_confounders, atac_hidden, latent_dim)
        self.n_classes = int(n_classes)
        if self.n_classes > 0:
            # inside the autoencoders: trained, early-stopped and frozen together with them
            self.rna.classifier = nn.Linear(latent_dim, self.n_classes)
            self.atac.classifier = nn.Linear(latent_dim, self.n_classes)
        self.rna_to_atac = LatentMapping(latent_dim, mapping_hidden)  # f
        self.atac_to_rna = LatentMapping(latent_dim, mapping_hidden)  # g
        self.discriminator_atac = Discriminator(latent_dim, n_heads, discriminator_hidden)  # D_A^k
        self.discriminator_rna = Discriminator(latent_dim, n_heads, discriminator_hidden)  # D_R^k

    def uses_classifier(self, weights: dict) -> bool:
        """Whether the cell-type classifiers exist and count in the loss (``weights['classifier_weight']``)."""
        return self.n_classes > 0 and weights.get("classifier_weight", 0.0) > 0

    def autoencoder_loss(self, modality: str, x: torch.Tensor, encoder_input: torch.Tensor,
                         confounders: torch.Tensor, weights: dict, counts: torch.Tensor | None = None,
                         targets: torch.Tensor | None = None,
                         amp: bool = False) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Objective of one autoencoder (phase 1, and each modality's own part of phase 3).

        Parameters
        ----------
        modality
            ``"rna"`` or ``"atac"``.
        x
            Dense minibatch, the reconstruction target.
        encoder_input
            What the encoder sees: ``x`` itself, or for ATAC a sparse (possibly masked) copy.
        confounders
            Depth z-score and batch one-hot per cell (decoder input, mutual-information target).
        weights
            ``mi_weight`` and ``classifier_weight``.
        counts
            Raw counts of the cells (RNA negative binomial likelihood only).
        targets
            Shared cell-type index per cell, -1 where none (classifier on; see :meth:`uses_classifier`).
        amp
            Run encoder and decoder in bfloat16 autocast (CUDA); the losses are computed in float32.

        Returns
        -------
        terms
            ``reconstruction``, ``mutual_information``, ``classification`` (0 without classifier) and
            ``total`` = reconstruction + mi_weight * mutual_information + classifier_weight * classification.
        latent
            The cells' latent codes (float32).
        """
        ae = getattr(self, modality)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=amp):
            z = ae.encode(encoder_input)
            out = ae.decoder_output(z, confounders) if modality == "rna" else ae.decode(z, confounders)
        z, out = z.float(), out.float()
        if modality == "atac":
            reconstruction = atac_reconstruction_loss(out, x)
        elif ae.likelihood == "nb":
            reconstruction = negative_binomial_loss(out, counts, ae.log_theta)
        else:
            reconstruction = rna_reconstruction_loss(out, x)
        classification = reconstruction * 0.0
        if self.uses_classifier(weights):
            classification = classification_loss(ae.classifier(z), targets)
        # after the classifier, as always: the order of autograd's gradient sums at z depends on it
        mutual_information = gaussian_mutual_information(z, confounders)
        total = (reconstruction + weights["mi_weight"] * mutual_information
                 + weights.get("classifier_weight", 0.0) * classification)
        return {"reconstruction": reconstruction, "mutual_information": mutual_information,
                "classification": classification, "total": total}, z

    def mapping_loss(self, zr: torch.Tensor, za: torch.Tensor, heads_rna: torch.Tensor, heads_atac: torch.Tensor,
                     weights: dict) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Generator side of the mapping (Eq. 10 without Rec): f and g against the discriminators.

        Parameters
        ----------
        zr, za
            Latent codes of RNA and ATAC cells (frozen in phase 2, differentiable in phase 3).
        heads_rna, heads_atac
            Discriminator head per cell: 1 + shared cell-type index, 0 for the unconditional head.
        weights
            ``gamma`` (adversarial), ``lam`` (cycle), ``classifier_weight``.

        Returns
        -------
        terms
            ``adversarial``, ``cycle``, ``classification`` (the frozen heads of the target modality must
            recognise the source cell's own type; 0 without classifier) and ``total`` = gamma * adversarial
            + lam * cycle + classifier_weight * classification.
        mapped
            ``(f(zr), g(za))``, reused by the discriminator step.
        """
        fake_atac, fake_rna = self.rna_to_atac(zr), self.atac_to_rna(za)
        adversarial = (gan_loss(self.discriminator_atac(fake_atac, heads_rna), True)
                       + gan_loss(self.discriminator_rna(fake_rna, heads_atac), True))
        sd_r, sd_a = self.atac_to_rna.target_sd, self.rna_to_atac.target_sd
        cycle = (F.mse_loss(self.atac_to_rna(fake_atac) / sd_r, zr / sd_r)
                 + F.mse_loss(self.rna_to_atac(fake_rna) / sd_a, za / sd_a))
        total = weights["gamma"] * adversarial + weights["lam"] * cycle
        classification = cycle * 0.0
        if self.uses_classifier(weights):
            # through detached heads: in phase 3 the heads train on their own modality only
            classification = (classification_loss(_frozen_linear(self.atac.classifier, fake_atac), heads_rna - 1)
                              + classification_loss(_frozen_linear(self.rna.classifier, fake_rna), heads_atac - 1))
            total = total + weights["classifier_weight"] * classification
        return ({"adversarial": adversarial, "cycle": cycle, "classification": classification, "total": total},
                (fake_atac, fake_rna))

    def link_loss(self, fake_atac: torch.Tensor, rna_expression: torch.Tensor, rna_confounders: torch.Tensor,
                  heads_rna: torch.Tensor, fake_rna: torch.Tensor, atac_activity: torch.Tensor,
                  atac_confounders: torch.Tensor, heads_atac: torch.Tensor, links: torch.Tensor,
                  linked_genes: torch.Tensor) -> torch.Tensor:
        """Feature-level link between the modalities: a gene's expression and the accessibility of its
        linked peaks must co-vary across cells of one type, in both translation directions.

        The adversarial and classification terms place a mapped cell on the right type; nothing in them
        says where inside the type. Here the decoded accessibility of f(z_R) around each gene (``links``,
        genes x peaks, sparse) must correlate with the RNA cell's own expression, and the decoded expression
        of g(z_A) with the ATAC cell's own activity at that gene (``atac_activity``, cells x linked genes),
        after removing each type's mean in the minibatch. Loss: 2 - the two mean per-gene correlations.
        Each translation decodes at its source cell's confounders (matched depth)."""
        accessibility = torch.sigmoid(self.atac.decode(fake_atac, rna_confounders))
        decoded_activity = torch.sparse.mm(links, accessibility.T).T
        rna_to_atac = within_type_correlation(decoded_activity, rna_expression[:, linked_genes], heads_rna)
        decoded_expression = self.rna.decode(fake_rna, atac_confounders)[:, linked_genes]
        atac_to_rna = within_type_correlation(decoded_expression, atac_activity, heads_atac)
        return 2.0 - rna_to_atac - atac_to_rna

    def discriminator_loss(self, zr: torch.Tensor, za: torch.Tensor, heads_rna: torch.Tensor,
                           heads_atac: torch.Tensor, fake_atac: torch.Tensor, fake_rna: torch.Tensor) -> torch.Tensor:
        """Discriminator side (Eq. 7-8): real codes of each modality against the other's mapped codes
        (``fake_atac`` = f(zr), ``fake_rna`` = g(za); detached, so only the discriminators learn)."""
        return (gan_loss(self.discriminator_atac(za, heads_atac), True)
                + gan_loss(self.discriminator_atac(fake_atac.detach(), heads_rna), False)
                + gan_loss(self.discriminator_rna(zr, heads_rna), True)
                + gan_loss(self.discriminator_rna(fake_rna.detach(), heads_atac), False))


def gaussian_mutual_information(z: torch.Tensor, confounders: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """Mutual information between the latent z and each confounder column, summed, under joint Gaussianity.

    For a Gaussian pair, I(z; c) = -1/2 log(1 - R^2) with R^2 the share of var(c) explained by the best
    linear function of z. This is the estimator the model minimises to keep depth and batch out of z
    (it sees linear dependence only; the decoders receive the confounders so z need not carry them).
    Constant columns (e.g. a single batch) contribute nothing.
    """
    n = z.shape[0]
    if n < 3:
        return z.sum() * 0.0
    # standardise z: otherwise the ridge term lets the encoder "remove" the dependence by shrinking z
    # (a collapse we saw on SNARE-seq), whereas R^2 itself does not depend on the scale of z
    z = (z - z.mean(0)) / (z.std(0) + 1e-6)
    c = confounders - confounders.mean(0)
    var_c = (c * c).mean(0)
    cov_zz = z.T @ z / n + ridge * torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    cov_zc = z.T @ c / n
    explained = (cov_zc * torch.linalg.solve(cov_zz, cov_zc)).sum(0)
    varying = var_c > 1e-8
    r2 = (explained[varying] / var_c[varying]).clamp(0.0, 1.0 - 1e-4)
    return (-0.5 * torch.log1p(-r2)).sum()


def within_type_correlation(predicted: torch.Tensor, observed: torch.Tensor, groups: torch.Tensor,
                            eps: float = 1e-8) -> torch.Tensor:
    """Mean over features of the Pearson correlation across cells of ``predicted`` and ``observed`` after
    subtracting each group's mean (``groups``: one integer per cell, e.g. its cell type), so that only the
    variation inside groups counts. Features whose observed values do not vary inside any group are left out
    (0 when none varies)."""
    _, codes = torch.unique(groups, return_inverse=True)
    one_hot = F.one_hot(codes).to(predicted.dtype)
    sizes = one_hot.sum(0, keepdim=True).T

    def centred(x: torch.Tensor) -> torch.Tensor:
        return x - one_hot @ ((one_hot.T @ x) / sizes)

    p, o = centred(predicted), centred(observed)
    p_norm, o_norm = p.square().sum(0), o.square().sum(0)
    varies = o_norm > eps
    if not bool(varies.any()):
        return predicted.sum() * 0.0
    correlation = (p * o).sum(0)[varies] / torch.sqrt(p_norm[varies] * o_norm[varies] + eps)
    return correlation.mean()


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Plain GAN loss (Eq. 7-8): binary cross-entropy of the discriminator logit against real/fake."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def rna_reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(x_hat, x)


def negative_binomial_loss(logits: torch.Tensor, counts: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``counts`` under NB(mean = softmax(logits) x library, theta)."""
    library = counts.sum(1, keepdim=True).clamp_min(1.0)
    log_mu = torch.log_softmax(logits, dim=1) + torch.log(library)
    theta = log_theta.exp()
    log_theta_mu = torch.logaddexp(log_theta, log_mu)
    log_likelihood = (torch.lgamma(counts + theta) - torch.lgamma(theta) - torch.lgamma(counts + 1)
                      + theta * (log_theta - log_theta_mu) + counts * (log_mu - log_theta_mu))
    return -log_likelihood.mean()


def atac_reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, x)


def classification_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over labelled cells only (target -1: unlabelled or type absent from the other
    modality); 0 when a minibatch holds no labelled cell."""
    labelled = targets >= 0
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[labelled], targets[labelled])


def _frozen_linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` without gradients for the layer's own weights (gradients still reach ``x``)."""
    return F.linear(x, layer.weight.detach(), layer.bias.detach())
