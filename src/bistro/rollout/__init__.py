"""The rollout controller: v4 moves to everyone on evidence, and comes back on harm."""
