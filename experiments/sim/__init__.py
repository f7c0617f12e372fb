"""The ``sim`` backend: the real Raft core and KV state machine in one process.

Rules: deterministic from a seed — simulated clock, network and disk, every
random draw from one seeded ``random.Random`` tree; no wall clock, no threads,
no sockets. The same seed gives a byte-identical history.
"""
