"""No background work: requests do all the work (keep them under the server's timeout)."""
