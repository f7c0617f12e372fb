"""``chaoslab bench kv``: chaoslab's KV store measured beside a 3-member etcd.

Rules: the package measures, it does not judge by itself: ``target`` (interfaces),
``etcd`` / ``chaoslab`` (clusters and clients), ``load`` (the load generator),
``failover`` (leader-kill trials), ``stats`` and ``report`` (pure figures) and
``command`` (the click command). ``etcd_kv_pb2`` is generated from
``etcd_kv.proto`` (see that file for the command); do not edit it by hand.
"""
