"""ML reports where code review happens: CI context, comments, checks, metrics, plots."""
