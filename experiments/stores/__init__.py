"""Stores the runner can judge: chaoslab's own node, etcd, or an adapter of your own.

``names`` (what an experiment may name), ``base`` (the adapter API), ``load`` (loading
and checking an adapter), ``mesh`` (the proxy mesh for members that dial peers by name),
and one module per adapter (``chaoslab``, ``etcd``). Nothing is imported here: the
experiment schema reads ``names`` without loading any adapter.
"""
