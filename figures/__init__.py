"""The read side: queries over the read model -> one typed figure (n, mean, interval, hidden and why) -> charts.

A figure is decided here once (suppression, caution) and rendered by the dashboard, its CSVs, the report and
the API alike, so no output can disagree with another (docs/architecture.md).
"""
