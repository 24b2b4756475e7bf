"""Fakes of the vendors Dialix talks to: real local HTTP servers speaking each vendor's wire format.

Not product code: tests and benches import them, and the demo runs the fake OnlinePBX
(`python -m integrations.testing.onlinepbx`). Production never imports this package."""
