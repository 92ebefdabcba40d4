"""Federated rounds on the server: aggregation (FedAvg, clustered FedAvg)."""
