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
# to them (the refit stage below); the students and the tiny decoder were then trained again: the shipped
# weights are this recipe's.
set -euo pipefail
cd "$(dirname "$0")"
py=${1:-../../venv/bin/python}
: "${VAE_STEPS:=1200}" "${VAE_LONG_STEPS:=800}" "${TEACHER_STEPS:=8100}" "${TEACHER_WEIGHTED:=6100}" "${ODE_STEPS:=400}" "${ODE_PAIRS:=256}"
: "${DMD_STEPS:=100}" "${LONG_DMD_STEPS:=100}" "${CRITIC_STEPS:=5}" "${SINK:=3}"
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
cp "${DIAGONAL_RUNS:-runs}/refit/ckpt.pt" "${DIAGONAL_RUNS:-runs}/teacher/ckpt.pt"
"$py" distill.py ode --schedule diagonal --steps "$ODE_STEPS" --pairs "$ODE_PAIRS"
"$py" distill.py ode --schedule uniform --steps "$ODE_STEPS" --pairs "$ODE_PAIRS"
# The two distillations get the same budget; they run side by side, one thread each: with PyTorch's default
# (every core) the two fight over both cores and each step took 18-22 s instead of 8 (2 cores, session 20).
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule diagonal --steps "$DMD_STEPS" --critic-steps "$CRITIC_STEPS" --init runs/ode-diagonal/student.pt &
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule uniform --steps "$DMD_STEPS" --critic-steps "$CRITIC_STEPS" --init runs/ode-uniform/student.pt
wait
# Then rollouts past the first window: 8 chunks, a random 3-chunk window of them scored, with the first
# chunk kept as an attention sink, as inference will run them (the colour then drifts less over long streams).
long=(--steps $((DMD_STEPS + LONG_DMD_STEPS)) --critic-steps "$CRITIC_STEPS" --rollout-chunks 8 --sink "$SINK")
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule diagonal "${long[@]}" &
OMP_NUM_THREADS=1 "$py" distill.py dmd --schedule uniform "${long[@]}"
wait
"$py" export.py --student runs/dmd-diagonal/ckpt.pt --out ../../weights --sink "$SINK"
# The tiny decoder, fine-tuned from the previous one on this student's streams.
"$py" decoder.py --init ../../weights/tiny_decoder.safetensors --steps 400
"$py" decoder.py --steps 1200 --threads 2 --export ../../weights
"$py" ../eval/evaluate.py --long 12 --sink "$SINK"
