"""etcd side by side with chaoslab: ``chaoslab bench kv``."""
