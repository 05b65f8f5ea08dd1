# ---
# jupyter:
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# inputs:
#   - data/points.csv
# outputs:
#   - figures/growth.pdf
#   - results/growth.csv
#   - results/growth_values.json
# ---

# %% [markdown]
# # Growth rate
# A log-linear fit of the counts.

# %%
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

with open("data/points.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
hours = np.array([float(row["hour"]) for row in rows])
counts = np.array([float(row["count"]) for row in rows])

# %%
rate, intercept = np.polyfit(hours, np.log(counts), 1)
fitted = np.exp(intercept + rate * hours)

# %%
os.makedirs("figures", exist_ok=True)
os.makedirs("results", exist_ok=True)
figure, axes = plt.subplots(figsize=(4, 3))
axes.plot(hours, counts, "o", label="counts")
axes.plot(hours, fitted, "-", label="fit")
axes.set_xlabel("hour")
axes.set_ylabel("count")
axes.legend()
figure.tight_layout()
figure.savefig("figures/growth.pdf", metadata={"CreationDate": None})

with open("results/growth.csv", "w", newline="") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["hour", "count", "fitted"])
    for hour, count, fit in zip(hours, counts, fitted, strict=True):
        writer.writerow([f"{hour:.0f}", f"{count:.0f}", f"{fit:.1f}"])

values = {
    "growthRate": {"value": rate, "format": ".3f"},
    "doublingTime": {"value": math.log(2) / rate, "format": ".2f"},
    "sampleCount": len(rows),
}
with open("results/growth_values.json", "w") as handle:
    json.dump(values, handle, indent=2, sort_keys=True)
    handle.write("\n")
