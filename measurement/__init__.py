"""Pure measurement: instrument files, scoring, suppression rules and statistics.

No Django import and no I/O beyond reading an instrument file, so every rule here can be tested on plain values
and every other package scores, hides and summarises the same way (docs/measurement.md).
"""
