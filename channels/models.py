"""Each kind's setup model lives in its own module; importing them here registers them."""

from channels.registry import load_all

load_all()
