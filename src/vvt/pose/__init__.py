"""Pose representations shared by SynthVVT, preprocessing, RealVVT and FashionMirror.

- :mod:`vvt.pose.openpose`: OpenPose BODY_25 (+ 2x21 hand + 70 face = 137 points) keypoints, their JSON
  file format, and OpenPose-coloured skeleton images (FashionMirror's pose embedding, Eq. 3).
- :mod:`vvt.pose.densepose`: the DensePose-style IUV encoding (24 parts, u, v) used by every stream.
"""
