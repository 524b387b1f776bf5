"""Rigs that drive real peers (sipp, espeak-ng, sox) for the tests, scripts and benchmarks alike;
kept outside tests/ so scripts never import a test module, and outside the wheel."""
