"""The v3 -> v4 migration control plane: flags, sticky rollout, the stable-path router."""
