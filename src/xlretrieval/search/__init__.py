"""Sharded inner-product search over the query sets (see `querysets`), one module per step: `order`
(scores and their ranking order), `index` (exact or approximate), `targets` (what each query set
looks for), `shards` (the pass over the candidates, shard by shard), `output` (TREC runs, exact ranks,
recall) and `clock` (seconds per phase)."""
