"""selfheal: the shared library of the self-healing house-price pipeline (shipped as a Lambda layer).

Nothing in here knows about AWS event shapes; handlers in functions/*/app.py adapt events to it.
"""
