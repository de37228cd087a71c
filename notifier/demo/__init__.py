"""The demo: a simulated AWS on loopback, a scenario player and a built-in inbox, started by
`python -m notifier.demo` (`make demo`). The product never imports this package."""
