"""Sharded inner-product search over the query sets (see `querysets`), one module per step: `order`
(scores and their ranking order), `index` (exact or approximate), `shards` (the pass over the
candidates), `output` (TREC runs, exact ranks, recall) and `clock` (seconds per phase)."""
