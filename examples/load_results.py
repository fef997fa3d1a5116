# %% [markdown]
# # Reading a finished experiment
#
# `raytune_app.load()` reads any experiment folder (finished, interrupted, still running, or whose driver was
# killed) without running anything from it: its trials ranked as `raytune-app report` ranks them, each trial's
# history, the best trial and its model.

# %%
import sys

import raytune_app

folder = sys.argv[1] if len(sys.argv) > 1 else "runs/mlp-digits"  # what `make tune` leaves
results = raytune_app.load(folder)
print(results)

# %%
print(results.trials.head(5).to_string(index=False))

# %%
best = results.best
print(f"best: trial {best.trial_id}, {best.metric} = {best.value:.4f} at epoch {best.epoch}, test scores "
      f"{best.test_scores}")
print(results.history(best.trial_id)[["epoch", "train_loss", best.metric]].to_string(index=False))

# %%
model = best.load_model()  # the best epoch's network, on the CPU, ready to predict
print(model)
print(f"{sum(p.numel() for p in model.parameters())} parameters")

# %%
results.report(html="report.html")  # the interactive page `raytune-app report --html` writes
print("wrote report.html")
