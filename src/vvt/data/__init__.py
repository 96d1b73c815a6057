"""Datasets: folder layouts of the public try-on datasets, torch datasets, and SynthVVT."""
