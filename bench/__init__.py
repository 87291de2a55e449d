"""Benchmarks run by ``hotline bench``; they print figures and assert nothing."""
