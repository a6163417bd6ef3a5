"""Uncertainty of the study's measures, one module per step: `cells` (what each number averages),
`resampling` (the bootstrap over question ids), `bootstrap` (every cell's interval), `significance`
(sign-flip p-values, Holm's correction), `paired` (the study's paired comparisons) and `study` (from
the per-query files of every benchmark)."""
