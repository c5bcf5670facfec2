"""End-to-end: generated stacks booted for real (issue 4)."""
