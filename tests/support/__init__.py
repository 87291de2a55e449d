"""Test support shared by several test modules: the ARI contract and pbxsim fixtures."""
