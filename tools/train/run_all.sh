#!/usr/bin/env bash
# The whole recipe for the default model, in order, with the budgets weights/README.md reports. Each stage
# resumes from its checkpoint under runs/ (DIAGONAL_RUNS), so rerunning continues where it stopped.
# Usage: tools/train/run_all.sh [python]   (a PyTorch venv's python; default venv/bin/python)
# DIAGONAL_DEVICE=cuda trains on a GPU (every script takes --device).
#
# Finished stages kept in git (stages/, stage.py) are restored first, so their steps are skipped; a stage
# saved part-way (the teacher across sessions) resumes from its step. The VAE has 16 latent channels since
# session 15 (Wan2.1's width; it read more shapes back than 8, tools/train/README.md), and every stage after it
# was retrained on its latents in sessions 15-16. Session 18 enlarged world.py's objects and refit the teacher
# to them (the refit stage below); sessions 19-23 added two teachers (contrast, repair) and distilled the
# students from them, session 24 a motion term at its own CFG weight, session 25 a longer contrast stage (and a
# repair of it), session 27 the average of two long stages (soup.py): the shipped weights are this recipe's.
set -euo pipefail
cd "$(dirname "$0")"
py=${1:-../../venv/bin/python}
: "${VAE_STEPS:=1200}" "${VAE_LONG_STEPS:=800}" "${TEACHER_STEPS:=8100}" "${TEACHER_WEIGHTED:=6100}" "${ODE_STEPS:=400}" "${ODE_PAIRS:=256}"
: "${DMD_STEPS:=100}" "${LONG_DMD_STEPS:=100}" "${CRITIC_STEPS:=5}" "${SINK:=3}" "${SOUP:=0.5}"
"$py" test_train.py
"$py" ../eval/test_eval.py
for s in stages/*.safetensors; do
  name=$(basename "$s" .safetensors)
  if [ -e "$s" ] && [ ! -e "${DIAGONAL_RUNS:-runs}/$name/ckpt.pt" ]; then "$py" stage.py restore "$name"; fi
done
"$py" vae.py --steps "$VAE_STEPS" --frames 5 --batch 8      # 16 channels, --edge-weight 3 (the defaults)
"$py" vae.py --decoder-only --steps "$VAE_LONG_STEPS" --frames 17 --batch 2 --lr 3e-4
# One cosine schedule on the 1/3/9-frame mix; object positions weigh 4x until TEACHER_WEIGHTED, then 2x so
# the objects keep their size (the weights the sessions 1-9 teacher ended on).
"$py" teacher.py --steps "$TEACHER_STEPS" --until "$TEACHER_WEIGHTED" --object-weight 4
"$py" teacher.py --steps "$TEACHER_STEPS" --object-weight 2
# Text binding: the high-noise band with object weights (textbind.py), the last steps at a small weight so
# objects keep their size; the distillations then learn from this teacher.
"$py" textbind.py --steps 2150 --mix 1:48
"$py" textbind.py --steps 7250 --mix 1:48,1:48,1:48,9:8
"$py" textbind.py --steps 7700 --mix 1:48,1:48,1:48,9:8 --object-weight 2
# Session 18's refit to world.py's larger objects, over every sigma: twin pairs first, then a fresh stage from
# that one's EMA with the object weight only below sigma 0.85 (above it, it inflates objects drawn from noise).
# The refit stage is kept in stages/, so a rerun restores it and skips both.
if [ ! -e "${DIAGONAL_RUNS:-runs}/refit/ckpt.pt" ]; then
  cp "${DIAGONAL_RUNS:-runs}/textbind/ckpt.pt" "${DIAGONAL_RUNS:-runs}/teacher/ckpt.pt"
  refit=(--sigma-min 0 --object-weight 4 --mix 1:48,1:48,3:24,9:8 --twins)
  "$py" textbind.py --run refit-twins --steps 2000 "${refit[@]}"
  cp "${DIAGONAL_RUNS:-runs}/refit-twins/ckpt.pt" "${DIAGONAL_RUNS:-runs}/teacher/ckpt.pt"
  "$py" textbind.py --run refit --steps 1000 "${refit[@]}" --weight-below 0.85 --pool 4
fi
# Sessions 19-23: two teachers. The contrast stage (textbind.py --run contrast --contrast 4 --shared-above 0.6
# --twins, 1850 steps from the refit in session 19, continued to 7000 in session 25, when its samples began to
# show corners) binds the caption's words ten times harder but tints gray purple; the repair stage (textbind.py --run repair --steps 300 --sigma-min 0 --sigma-max 0.6 --object-weight 4 --mix
# 1:48,1:48,3:24,9:8 --pool 4 --lr 1e-4 --freeze-t5) mends its plain denoising below sigma 0.6 and keeps its
# text encoder bit for bit. Both are kept in stages/ and restored above.
R=${DIAGONAL_RUNS:-runs}
for stage in contrast repair; do
  if [ ! -e "$R/$stage/ckpt.pt" ]; then
    echo "run_all.sh: stages/$stage.safetensors is missing; restore it from git (its flags: weights/README.md)" >&2
    exit 1
  fi
done
# The students start from the repaired teacher and read its text encoder. The ODE trajectories walk with the
# contrast teacher's velocity above sigma 0.6 on the object's cells only, the repaired teacher's elsewhere,
# so its binding reaches them and its tint does not.
cp "$R/repair/ckpt.pt" "$R/teacher/ckpt.pt"
two=(--high-teacher "$R/contrast/ckpt.pt" --high-above 0.6 --high-on-objects)
"$py" distill.py ode --schedule diagonal --steps "$ODE_STEPS" --pairs "$ODE_PAIRS" "${two[@]}"
"$py" distill.py ode --schedule uniform --steps "$ODE_STEPS" --pairs "$ODE_PAIRS" "${two[@]}"
# DMD's real score: the contrast teacher on the object above sigma 0.6, the refit (through its own text
# encoder) everywhere else. The two distillations get the same budget; they run side by side, one thread
# each: with PyTorch's default (every core) the two fight over both cores (2 cores, session 20).
dmd=(--critic-steps "$CRITIC_STEPS" --low-teacher "$R/refit/ckpt.pt")
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule diagonal --steps "$DMD_STEPS" "${dmd[@]}" "${two[@]}" \
  --init "$R/ode-diagonal/student.pt" &
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule uniform --steps "$DMD_STEPS" "${dmd[@]}" "${two[@]}" \
  --init "$R/ode-uniform/student.pt"
wait
# Then rollouts past the first window: 8 chunks, a random 3-chunk window of them scored, the first chunk kept
# as an attention sink, as inference runs them. Scored by the refit alone, these steps take out the purple
# tint DMD on the first window puts on gray and keep the colour over long streams, but the 2-step chunks lose
# the outline; scored with the contrast teacher on the object too, they keep the outline and let colour drift
# (session 26). Since session 27 each student runs both from one DMD checkpoint (a copy of the run branches
# it) and ships their weight average (soup.py), which keeps most of both. The motion term reads the teacher
# at CFG 4 (session 24): direction kept, and no tint, which has no temporal difference.
long=(--steps $((DMD_STEPS + LONG_DMD_STEPS)) "${dmd[@]}" --rollout-chunks 8 --sink "$SINK" --motion-guidance 4)
for sched in diagonal uniform; do
  if [ ! -e "$R/dmd-$sched-shape/ckpt.pt" ]; then
    # The branch must start where the other long stage starts: at the end of DMD, not part-way into it.
    at=$("$py" -c 'import sys, common; print(common.load_checkpoint(sys.argv[1])["step"])' "$R/dmd-$sched/ckpt.pt")
    if [ "$at" != "$DMD_STEPS" ]; then
      echo "run_all.sh: $R/dmd-$sched is at step $at, not $DMD_STEPS, and has no branch to average with" >&2
      exit 1
    fi
    rm -rf "$R/dmd-$sched-shape"; cp -r "$R/dmd-$sched" "$R/dmd-$sched-shape"
  fi
  OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule $sched "${long[@]}" &
  OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule $sched --run dmd-$sched-shape "${long[@]}" "${two[@]}"
  wait
  "$py" soup.py "$R/dmd-$sched/ckpt.pt" "$R/dmd-$sched-shape/ckpt.pt" --weight "$SOUP" --out "$R/soup-$sched/ckpt.pt"
done
"$py" export.py --student "$R/soup-diagonal/ckpt.pt" --out ../../weights --sink "$SINK"
# The tiny decoder stays the fifth model's: fitted to the sixth's and the seventh's streams (decoder.py --init
# ../../weights/tiny_decoder.safetensors --steps 400 --model ../../weights --export DIR) it imitates the VAE
# better, but the eval reads no more colour or shape through it (weights/README.md, "The tiny decoder").
"$py" ../eval/evaluate.py --long 12 --sink "$SINK"
