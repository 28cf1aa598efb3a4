"""The web front: HTML views, forms and URL modules. Thin: reads through selectors and figures, writes through
services."""
