"""Client quotas (Kafka's ClientQuotaManager): byte rates and request percentage per user and
client id, kept in the metadata log and enforced by throttling (KIP-219)."""
