"""Shared tooling of the inhand stack: conventions, paths, the ROS runtime and the launcher."""
