"""The rollout controller: moves v4 to everyone on evidence and back on harm."""
