"""Pure measurement: no Django import, no I/O."""
