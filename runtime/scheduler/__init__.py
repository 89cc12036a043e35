"""Scheduling: sampling parameters, the sampler, requests, batches and the scheduler."""
