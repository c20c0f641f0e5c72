"""Bridges from hpo to other tools; ``integrations.optuna.HPOSampler`` is the Optuna sampler plugin."""
