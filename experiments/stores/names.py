"""The stores an experiment can name (``cluster.store``).

Rules: names only, no imports of the adapters (the experiment schema validates names
with this module, long before any adapter is loaded).
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_STORE: Final = "chaoslab"
STORES: Final = {
    "chaoslab": "experiments.stores.chaoslab:ChaoslabStore",
    "etcd": "experiments.stores.etcd:EtcdStore",
}
"""Short name → the adapter's import path."""
IMPORT_PATH: Final = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def check_store_name(name: str) -> str:
    """Return ``name`` if it is a known store or an import path (``pkg.mod:Attr``).

    Raises:
        ValueError: neither (the message lists the known stores).
    """
    if name in STORES or IMPORT_PATH.match(name):
        return name
    msg = (
        f"unknown store {name!r}: expected one of {', '.join(sorted(STORES))}, or an adapter "
        "of your own as package.module:Class"
    )
    raise ValueError(msg)
