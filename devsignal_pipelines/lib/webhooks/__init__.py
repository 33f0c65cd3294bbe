"""Webhook events: the outbox, Standard Webhooks signing, SSRF-safe at-least-once delivery.

See docs/webhooks.md. Dagster wiring lives in devsignal_pipelines/defs/webhooks/.
"""
