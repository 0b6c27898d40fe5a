"""Review UI, assignment and adjudication."""
