"""Message templates that stalled or flooded a render before the dialect and the budget."""

from __future__ import annotations

# Six loops over a ten-character text: a million iterations (4.2 s to save before the dialect).
NESTED_LOOPS = (
    "".join(f'{{% for x{i} in "0123456789" %}}' for i in range(6)) + "x" + ("{% endfor %}" * 6)
)
CENTER = '{{ "a"|center:"20000000" }}'
# The save-time check renders samples of "storefront": this bomb only goes off elsewhere.
HIDDEN = '{% if event.application != "storefront" %}' + NESTED_LOOPS + "{% endif %}"
# Within the dialect, but 100 copies of a 1,000-character text: 100 KB of message.
FLOOD = '{% with a="' + "x" * 1000 + '" %}' + "{{ a }}" * 100 + "{% endwith %}"
# Within the dialect and tiny, but 600 tags to evaluate.
BUSY = "{% if is_failure %}{% endif %}" * 600
