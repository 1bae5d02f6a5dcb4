"""Design search: propose designs with Optuna, gate each on the board's budget, proxy-train those that fit.

:mod:`space` (what may be proposed), :mod:`objective` (the budget check, objectives, Pareto front),
:mod:`storage` (search folder, Optuna storage and study), :mod:`trainer` (the ``train`` worker as proxy
trainer), :mod:`loop` (the ask / check / train / tell loop and its events). Importing this package loads
neither Optuna nor TensorFlow.
"""
