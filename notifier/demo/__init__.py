"""The demo: a simulated AWS on loopback, a scenario player and a built-in inbox (`make demo`)."""
