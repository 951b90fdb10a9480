#!/usr/bin/env bash
# The whole recipe for the default model, in order, with the budgets weights/README.md reports. Each stage
# resumes from its checkpoint under runs/ (DIAGONAL_RUNS), so rerunning continues where it stopped.
# Usage: tools/train/run_all.sh [python]   (a PyTorch venv's python; default venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")"
py=${1:-../../venv/bin/python}
: "${VAE_STEPS:=900}" "${VAE_LONG_STEPS:=200}" "${TEACHER_STEPS:=2600}" "${ODE_STEPS:=300}" "${ODE_PAIRS:=128}" "${DMD_STEPS:=150}"
"$py" test_train.py
"$py" vae.py --steps "$VAE_STEPS" --frames 5 --batch 8
"$py" vae.py --decoder-only --steps "$VAE_LONG_STEPS" --frames 17 --batch 2 --lr 3e-4
"$py" teacher.py --steps "$TEACHER_STEPS"
"$py" distill.py ode --schedule diagonal --steps "$ODE_STEPS" --pairs "$ODE_PAIRS"
"$py" distill.py ode --schedule uniform --steps "$ODE_STEPS" --pairs "$ODE_PAIRS"
# The two distillations get the same budget; they run side by side.
"$py" distill.py dmd --schedule diagonal --steps "$DMD_STEPS" --init runs/ode-diagonal/student.pt &
"$py" distill.py dmd --schedule uniform --steps "$DMD_STEPS" --init runs/ode-uniform/student.pt
wait
# weights/ ships the ODE-init diagonal student at this budget (weights/README.md says why); swap in
# runs/dmd-diagonal/ckpt.pt when the eval table shows the DMD stage helping.
"$py" export.py --student runs/ode-diagonal/student.pt --out ../../weights
"$py" ../eval/evaluate.py
