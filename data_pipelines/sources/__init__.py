"""Dataset sources: each raw corpus layout (and the synthetic corpus generator) scanned into clips."""
