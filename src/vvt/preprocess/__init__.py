"""Preprocessing real person videos and garment photos into the ViViD layout (issue 9).

Stages, each in its own module:

- :mod:`~vvt.preprocess.people`: which person to follow when several are in view (the largest, tracked).
- :mod:`~vvt.preprocess.keypoints`: mediapipe 0.10.14 Holistic (offline) -> body, hands, face per frame,
  mapped to OpenPose BODY_25 + 2x21 hand + 70 face points (:mod:`vvt.pose.openpose`), plus the person mask.
- :mod:`~vvt.preprocess.smoothing`: One-Euro filtering of keypoints, temporal mask smoothing, jitter metrics
  (RealVVT Appendix D names per-frame jitter of masks and DensePose as a main data problem).
- :mod:`~vvt.preprocess.parsing`: human parsing backends (offline default from mediapipe; SegFormer from a
  local directory).
- :mod:`~vvt.preprocess.masks`: agnostic masks per category (VITON-HD / DressCode style) and agnostic videos.
- :mod:`~vvt.preprocess.densepose`: a 24-part IUV-style map rendered from keypoints and the person mask.
- :mod:`~vvt.preprocess.garment`: garment photo background removal, centring and padding.
- :mod:`~vvt.preprocess.pipeline`: a video, an image folder or a folder of videos -> the ViViD layout.
"""
