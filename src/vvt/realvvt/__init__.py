"""RealVVT (../shared/papers/realvvt.txt): video virtual try-on with a Reference U-Net, a spatio-temporal
U-Net with a pose guider, C&T consistency attention and the agnostic mask-guided attention loss, trained with
EDM.

Where each concept of the paper lives:

* Eq. 1-2 (EDM preconditioning, sigma sampling, DSM loss): :mod:`vvt.realvvt.edm`
* Eq. 3-4 (agnostic mask-guided attention loss): :mod:`vvt.realvvt.losses`
* Eq. 6-8 (C&T consistency attention) and the reference feature bank: :mod:`vvt.realvvt.attention`
* Sec. 3.2 pose guider: :mod:`vvt.realvvt.pose_guider`; 9-channel ``conv_in`` and presets:
  :mod:`vvt.realvvt.presets`
* Eq. 5 training step and the whole model: :class:`vvt.realvvt.model.RealVVT`
* Sampling: :class:`vvt.realvvt.pipeline.RealVVTPipeline`; long videos (Algorithm 1):
  :mod:`vvt.realvvt.long_video`

Quick start::

    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT

    model = RealVVT.from_config(RealVVTConfig(preset="tiny"))          # or svd_dir=..., sd21_dir=...
    losses = model(batch, generator)                                 # {"loss", "dsm", "agn"}
    frames = model.pipeline()(agnostic, mask, densepose, garment).frames
"""
