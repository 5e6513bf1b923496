"""Helpers of scripts/check_modules.py; the policy itself lives in that script."""
