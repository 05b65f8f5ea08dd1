# ---
# jupyter:
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# inputs:
#   - data/hare_lynx.csv
#   - results/fit_values.json
# outputs:
#   - figures/phase_portrait.pdf
#   - results/simulation.csv
#   - results/simulation_values.json
# ---

# %% [markdown]
# # Orbits of the fitted Lotka–Volterra model
#
# Takes the parameters estimated by `notebooks/fit.ipynb` and follows the closed orbits of the
# model around its equilibrium: their periods and ranges, how the period grows with the size of
# the orbit, and how well the integrator keeps the conserved quantity constant.

# %%
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import solve_ivp

RTOL, ATOL = 1e-10, 1e-12
FACTORS = (1.25, 1.75, 2.5, 3.0)  # orbits started at (factor * hare equilibrium, lynx equilibrium)
SWEEP = np.linspace(1.02, 3.5, 60)  # finer sweep of the same family, for the period curve
CHECK_PERIODS = 10  # how many periods the conserved quantity is followed

with open("results/fit_values.json", encoding="utf-8") as handle:
    fitted = json.load(handle)


def value(name):
    """A number from the fit's results; macro values may be plain or {"value", "format"}."""
    entry = fitted[name]
    return float(entry["value"] if isinstance(entry, dict) else entry)


alpha, beta, gamma, delta = (value(f"fit{n}") for n in ("Alpha", "Beta", "Gamma", "Delta"))
x0, y0 = value("fitHareStart"), value("fitLynxStart")

with open("data/hare_lynx.csv", newline="", encoding="utf-8") as handle:
    rows = list(csv.DictReader(handle))
years = np.array([int(row["year"]) for row in rows])
hare = np.array([float(row["hare"]) for row in rows])
lynx = np.array([float(row["lynx"]) for row in rows])

hare_eq, lynx_eq = gamma / delta, alpha / beta
linear_period = 2 * math.pi / math.sqrt(alpha * gamma)
print(f"equilibrium ({hare_eq:.2f}, {lynx_eq:.2f}), small-oscillation period {linear_period:.3f}")

# %% [markdown]
# ## One orbit
#
# The model is integrated for log abundances $u = \ln x$, $v = \ln y$. The period is the time
# between two successive upward crossings of the hare equilibrium; along the orbit the quantity
# $V = \delta x - \gamma \ln x + \beta y - \alpha \ln y$ must stay constant.


# %%
def log_rhs(_t, state):
    u, v = state
    return [alpha - beta * math.exp(v), delta * math.exp(u) - gamma]


def crossing(_t, state):
    return state[0] - math.log(hare_eq)


crossing.direction = 1.0


def conserved(x, y):
    return delta * x - gamma * np.log(x) + beta * y - alpha * np.log(y)


def orbit(x_start, y_start, periods=2):
    """Period, ranges and peak lag of the orbit through (x_start, y_start)."""
    span = (0.0, (periods + 1) * 4 * linear_period)
    first = solve_ivp(
        log_rhs,
        span,
        [math.log(x_start), math.log(y_start)],
        events=crossing,
        method="DOP853",
        rtol=RTOL,
        atol=ATOL,
    )
    t_cross = first.t_events[0]
    period = float(t_cross[1] - t_cross[0])
    start = first.y_events[0][0]
    times = np.linspace(0.0, period, 4001)
    one = solve_ivp(
        log_rhs, (0.0, period), start, t_eval=times, method="DOP853", rtol=RTOL, atol=ATOL
    )
    x, y = np.exp(one.y)
    lag = (times[np.argmax(y)] - times[np.argmax(x)]) % period
    return {"period": period, "x": x, "y": y, "lag": float(lag)}


fit_orbit = orbit(x0, y0)
print(f"fitted orbit: period {fit_orbit['period']:.3f} years, peak lag {fit_orbit['lag']:.2f}")

# %% [markdown]
# ## Conservation check
#
# Over ten periods of the fitted orbit the relative change of $V$ measures the integration
# error.

# %%
long = solve_ivp(
    log_rhs,
    (0.0, CHECK_PERIODS * fit_orbit["period"]),
    [math.log(x0), math.log(y0)],
    t_eval=np.linspace(0.0, CHECK_PERIODS * fit_orbit["period"], 2001),
    method="DOP853",
    rtol=RTOL,
    atol=ATOL,
)
level = conserved(*np.exp(long.y))
drift = float(np.max(np.abs(level - level[0])) / abs(level[0]))
drift_exponent = math.ceil(math.log10(drift))
print(f"relative drift of V over {CHECK_PERIODS} periods: {drift:.2e} (< 1e{drift_exponent})")

# %% [markdown]
# ## A family of orbits

# %%
family = [(factor, orbit(factor * hare_eq, lynx_eq)) for factor in FACTORS]
sweep_periods = np.array([orbit(factor * hare_eq, lynx_eq)["period"] for factor in SWEEP])
fit_factor = float(fit_orbit["x"].max() / hare_eq)
for factor, o in family:
    print(f"x = {factor} x*: period {o['period']:.2f}, hare {o['x'].min():.1f}-{o['x'].max():.1f}")

# %% [markdown]
# ## Figure

# %%
os.makedirs("figures", exist_ok=True)
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
figure, (left, right) = plt.subplots(
    1, 2, figsize=(6.2, 3.0), gridspec_kw={"width_ratios": [1.35, 1]}
)
for factor, o in family:
    left.plot(o["x"], o["y"], color="0.65", linewidth=0.8)
    left.annotate(
        f"{factor:g}",
        (o["x"].max(), lynx_eq),
        xytext=(2, 2),
        textcoords="offset points",
        fontsize=7,
        color="0.4",
    )
left.plot(fit_orbit["x"], fit_orbit["y"], color="tab:purple", linewidth=1.6, label="fitted orbit")
left.plot(hare, lynx, "o-", color="black", markersize=3, linewidth=0.5, label="fur returns")
for i, offset in ((0, (4, -9)), (len(years) - 1, (-14, 6))):
    left.annotate(
        str(years[i]), (hare[i], lynx[i]), xytext=offset, textcoords="offset points", fontsize=7
    )
tail = int(np.argmax(fit_orbit["y"]))  # the direction of travel, shown at the lynx peak
head = (tail + 150) % len(fit_orbit["y"])
left.annotate(
    "",
    xy=(fit_orbit["x"][head], fit_orbit["y"][head]),
    xytext=(fit_orbit["x"][tail], fit_orbit["y"][tail]),
    arrowprops={"arrowstyle": "-|>", "color": "tab:purple", "linewidth": 1.2},
)
left.plot([hare_eq], [lynx_eq], "*", color="tab:orange", markersize=10, label="equilibrium")
left.set_xlabel("hare (thousands)")
left.set_ylabel("lynx (thousands)")
left.set_xlim(left=0)
left.set_ylim(bottom=0)
left.legend(frameon=False, fontsize=7, loc="upper right")
left.set_title("(a) phase plane", loc="left", fontsize=9)
right.plot(SWEEP, sweep_periods, color="0.3", linewidth=1.2)
right.axhline(
    linear_period,
    color="tab:orange",
    linestyle="--",
    linewidth=1.0,
    label=r"$2\pi/\sqrt{\alpha\gamma}$",
)
right.plot([fit_factor], [fit_orbit["period"]], "o", color="tab:purple", label="fitted orbit")
right.set_xlabel(r"orbit size $x_{\max}/x^{*}$")
right.set_ylabel("period (years)")
right.legend(frameon=False, fontsize=7, loc="upper left")
right.set_title("(b) period", loc="left", fontsize=9)
figure.tight_layout()
figure.savefig("figures/phase_portrait.pdf", metadata={"CreationDate": None})
plt.close(figure)

# %% [markdown]
# ## Results for the thesis

# %%
os.makedirs("results", exist_ok=True)
with open("results/simulation.csv", "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["Orbit", "Period", "Peak lag", "Hare min", "Hare max", "Lynx min", "Lynx max"])
    labelled = [(f"fitted ({years[0]})", fit_orbit)]
    labelled += [(f"k = {factor:g}", o) for factor, o in family]
    for label, o in labelled:
        writer.writerow(
            [
                label,
                f"{o['period']:.2f}",
                f"{o['lag']:.2f}",
                f"{o['x'].min():.1f}",
                f"{o['x'].max():.1f}",
                f"{o['y'].min():.1f}",
                f"{o['y'].max():.1f}",
            ]
        )


def number(x, spec):
    return {"value": float(x), "format": spec}


largest_factor, largest = family[-1]
values = {
    "simPeriod": number(fit_orbit["period"], ".1f"),
    "simLinearPeriod": number(linear_period, ".1f"),
    "simPeriodExcess": number(100 * (fit_orbit["period"] / linear_period - 1), ".0f"),
    "simPeakLag": number(fit_orbit["lag"], ".1f"),
    "simEquilibriumHare": number(hare_eq, ".1f"),
    "simEquilibriumLynx": number(lynx_eq, ".1f"),
    "simHareMin": number(fit_orbit["x"].min(), ".1f"),
    "simHareMax": number(fit_orbit["x"].max(), ".1f"),
    "simLynxMin": number(fit_orbit["y"].min(), ".1f"),
    "simLynxMax": number(fit_orbit["y"].max(), ".1f"),
    "simOrbitSize": number(fit_factor, ".2f"),
    "simLargestFactor": number(largest_factor, "g"),
    "simLargestPeriod": number(largest["period"], ".1f"),
    "simDriftExponent": drift_exponent,
    "simCheckPeriods": CHECK_PERIODS,
}
with open("results/simulation_values.json", "w", encoding="utf-8") as handle:
    json.dump(values, handle, indent=2, sort_keys=True)
    handle.write("\n")
print(json.dumps(values, indent=2, sort_keys=True))
