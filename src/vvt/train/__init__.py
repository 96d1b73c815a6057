"""Training with accelerate: the generic loop (:mod:`vvt.train.trainer`), atomic checkpoints
(:mod:`vvt.train.checkpoint`), the resumable data stream (:mod:`vvt.train.data`) and the tasks
``vae`` (:mod:`vvt.train.vae`) and ``realvvt`` (:mod:`vvt.train.realvvt`)."""
