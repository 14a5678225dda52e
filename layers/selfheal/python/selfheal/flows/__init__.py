"""The pipeline's steps as library functions; each Lambda handler is a thin adapter over one of them.

Every function takes a :class:`selfheal.context.Context` (settings, clients, registry, audit) and
plain values, never an AWS event.
"""
