"""SynthVVT: procedural try-on videos with exact ground truth (issue 3).

``generate(out_dir, SynthConfig(...))`` writes a dataset in the ViViD folder layout plus unpaired
ground truth; ``vvt synth`` is its command line and ``vvt bench synth`` its speed benchmark. Modules:
:mod:`~vvt.data.synth.body` (people, skeleton), :mod:`~vvt.data.synth.motion`,
:mod:`~vvt.data.synth.textures`, :mod:`~vvt.data.synth.garments`, :mod:`~vvt.data.synth.raster`
(UV-charted shapes), :mod:`~vvt.data.synth.render` (all per-frame streams), :mod:`~vvt.data.synth.writer`
(the dataset), :mod:`~vvt.data.synth.preview` (contact sheet), :mod:`~vvt.data.synth.bench`.
"""

from vvt.data.synth.writer import SynthConfig, generate

__all__ = ["SynthConfig", "generate"]
