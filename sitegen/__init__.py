"""The documentation site's generated pages (settings, Redis keys) and its mkdocs hook.

The page makers import no mkdocs, so tests (without the ``docs`` group) can check their output.
"""
