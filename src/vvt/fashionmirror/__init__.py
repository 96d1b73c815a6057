"""FashionMirror (Chen et al., ICCV 2021): co-attention masks, skeleton flows, Gaussian feature warping, HSG.

Modules, one concept each:

- :mod:`~vvt.fashionmirror.cmn`: co-attention mask network (Sec. 3.1, Eqs. 1-2).
- :mod:`~vvt.fashionmirror.sfe`: pose embedding (Eq. 3) and skeleton flow extraction (Eq. 4).
- :mod:`~vvt.fashionmirror.warp`: Gaussian-sampling feature warping (Sec. 3.2).
- :mod:`~vvt.fashionmirror.hsg`: human sequence generation (Eqs. 7-8).
- :mod:`~vvt.fashionmirror.losses`: CMN loss (Eq. 2), sample correctness (Eqs. 5-6), spatial and
  temporal try-on losses (Eqs. 9-11).
- :mod:`~vvt.fashionmirror.model`: the whole generator and its training step.
- :mod:`~vvt.fashionmirror.inference`: person image + garment + pose video -> try-on frames.
- :mod:`~vvt.fashionmirror.weights`: local torchvision state dicts (ResNet trunk, VGG19).
"""
