#!/usr/bin/env bash
# The first GPU benchmark of the full RealVVT, for anyone with a GPU and no weights (random weights in the
# SVD-XT / SD 2.1 / CLIP ViT-H/14 shapes; about 5 minutes on one modern GPU, well under 10):
#   benchmarks/gpu.sh                      # full preset, 512x384, 14 frames, 25 steps with CFG
#   benchmarks/gpu.sh --preset tiny        # the same runs at toy width (how CI checks this script, on CPU)
# It runs `vvt bench realvvt` (plain SVD U-Net against RealVVT's, in one process, same weights) in fp16, in
# bf16, and in bf16 with torch.compile; attention runs through PyTorch SDPA (diffusers' default processors and
# vvt's C&T processor). Seconds per clip = 25 denoising steps with classifier-free guidance + the one-off
# garment encoding, Reference U-Net bank and pose guider (VAE decoding not included). It writes ONE JSON and
# checks nothing: a run that fails (out of memory, no compiler) is recorded with its error, so a slow or small
# GPU still gives a file. Send us the JSON.
set -uo pipefail

preset=full
size=""
frames=14
steps=25
device=auto
out="gpu-$(date +%Y%m%d-%H%M%S).json"
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --frames) frames="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "gpu.sh: error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$size" ]; then
  if [ "$preset" = full ]; then size=512x384; else size=64x48; fi
fi
python="${PYTHON:-python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() {  # name, extra options...
  local name="$1"; shift
  echo "gpu.sh: $name" >&2
  if ! "$python" -m vvt.cli bench realvvt --preset "$preset" --size "$size" --frames "$frames" --steps "$steps" \
      --device "$device" --out "$work/$name.json" "$@" > "$work/$name.log" 2>&1; then
    tail -n 5 "$work/$name.log" > "$work/$name.error"
  fi
}
run fp16 --dtype float16
run bf16 --dtype bfloat16
run bf16-compile --dtype bfloat16 --compile

"$python" - "$work" "$out" "$steps" <<'EOF'
import json
import sys
from pathlib import Path

from vvt.commands.bench import environment
from vvt.io import atomic_write_text

work, out, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
result = {"benchmark": "gpu.sh", "environment": environment(), "denoising_steps_per_clip": steps, "runs": {}}
for name in ("fp16", "bf16", "bf16-compile"):
    path, error = work / f"{name}.json", work / f"{name}.error"
    if not path.is_file():
        result["runs"][name] = {"error": error.read_text() if error.is_file() else "no output"}
        continue
    r = json.loads(path.read_text())
    one_off = r["one_off_per_video"]
    once = one_off["reference_unet_s"] + one_off["pose_guider_s"] + one_off["clip_and_vae_garment_s"]
    result["runs"][name] = {
        "dtype": r["dtype"],
        "compiled": r["compiled"],
        "size": r["size"],
        "frames": r["frames"],
        "device": r["device"],
        "plain_svd": {
            "seconds_per_clip": steps * r["plain_unet"]["step_s"],
            "peak_memory_bytes": r["plain_unet"]["peak_memory_bytes"],
        },
        "realvvt": {
            "seconds_per_clip": steps * r["realvvt_unet"]["step_s"] + once,
            "peak_memory_bytes": max(r["realvvt_unet"]["peak_memory_bytes"], one_off["reference_unet_peak_memory_bytes"]),
        },
        "step_ratio": r["ratio"],
        "flops": r["flops"],
        "memory_measure": r["memory_measure"],
    }
atomic_write_text(out, json.dumps(result, indent=2) + "\n")
print(f"wrote {out}")
EOF
