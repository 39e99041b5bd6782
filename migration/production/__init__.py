"""B-1006 Phase 6: the assistant in production (service, declared rollout, proxy, metrics, analysis)."""
