"""The vault: sealed secrets under envelope encryption, opened by k of n custodians (DESIGN decision 4)."""
