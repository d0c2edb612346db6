"""Joint safety between any policy and the hand; owns the hand profiles."""
