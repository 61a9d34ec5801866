"""Renders ``crm-suite.yaml``, the suite's Kubernetes manifests, from one description of its
processes, so that the five workloads cannot drift apart (a test checks that the committed
file is this script's output and validates it against the Kubernetes schemas).

    uv run python deploy/kubernetes/render.py > deploy/kubernetes/crm-suite.yaml
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml

APP = "crm-suite"
SECRETS = f"{APP}-secrets"  # created by the operator (README): never in this file
CONFIG = f"{APP}-config"
IMAGE = "ghcr.io/crm-suite/{name}:latest"
#: The worker writes this file while healthy; a stale one means stuck (its liveness probe).
HEARTBEAT = "/tmp/analytics-worker.heartbeat"


@dataclass(frozen=True)
class Workload:
    name: str
    image: str
    port: int | None  # None: no HTTP port (the worker)
    env_prefix: str
    command: tuple[str, ...] = ()
    autoscale: bool = True
    cpu: str = "250m"
    memory: str = "256Mi"
    memory_limit: str = "512Mi"


WORKLOADS = (
    Workload("gateway", "gateway", 4000, "GATEWAY", cpu="500m", memory_limit="768Mi"),
    Workload("customers", "customers", 4001, "CUSTOMERS"),
    Workload("pipeline", "pipeline", 4002, "PIPELINE"),
    Workload("analytics", "analytics", 4003, "ANALYTICS", memory="512Mi", memory_limit="2Gi"),
    # One active consumer per queue (single active consumer): the second replica is a hot
    # standby, so it is not autoscaled on CPU.
    Workload(
        "analytics-worker",
        "analytics",
        None,
        "ANALYTICS",
        command=("analytics-worker",),
        autoscale=False,
    ),
)


def labels(workload: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": workload.name, "app.kubernetes.io/part-of": APP}


def secret(key: str, env: str) -> dict[str, Any]:
    return {"name": env, "valueFrom": {"secretKeyRef": {"name": SECRETS, "key": key}}}


def container(workload: Workload) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        secret("mongodb-url", "MONGODB_URL"),
        secret("amqp-url", "AMQP_URL"),
        secret("jwt-secret", "JWT_SECRET"),
    ]
    spec: dict[str, Any] = {
        "name": workload.name,
        "image": IMAGE.format(name=workload.image),
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        "resources": {
            "requests": {"cpu": workload.cpu, "memory": workload.memory},
            "limits": {"memory": workload.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": False,
        },
    }
    if workload.command:
        spec["command"] = list(workload.command)
    if workload.port is not None:
        env += [
            {"name": f"{workload.env_prefix}_HOST", "value": "0.0.0.0"},
            {"name": f"{workload.env_prefix}_PORT", "value": str(workload.port)},
        ]
        spec["ports"] = [{"name": "http", "containerPort": workload.port}]
        spec["readinessProbe"] = {
            "httpGet": {"path": "/health/ready", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        }
        spec["livenessProbe"] = {
            "httpGet": {"path": "/health/live", "port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 6,
        }
    else:
        stale = (
            f"import os, sys, time; sys.exit(time.time() - os.path.getmtime('{HEARTBEAT}') > 30)"
        )
        spec["livenessProbe"] = {
            "exec": {"command": ["python", "-c", stale]},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "failureThreshold": 6,
        }
    return spec


def deployment(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels(workload)},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(workload)},
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
                    "containers": [container(workload)],
                },
            },
        },
    }


def service(workload: Workload) -> dict[str, Any]:
    assert workload.port is not None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {
            "selector": labels(workload),
            "ports": [{"name": "http", "port": workload.port, "targetPort": "http"}],
        },
    }


def disruption_budget(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(workload)}},
    }


def autoscaler(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload.name, "labels": labels(workload)},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": workload.name,
            },
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG, "labels": {"app.kubernetes.io/part-of": APP}},
        "data": {
            "CRM_ENV": "production",
            "LOG_LEVEL": "INFO",
            "CRM_INSTANCE": "crm",
            # With several API replicas only the lease holder's relay publishes; the others'
            # writes go out at its next sweep, so sweep often.
            "CUSTOMERS_RELAY_POLL_INTERVAL": "0.5",
            "PIPELINE_RELAY_POLL_INTERVAL": "0.5",
        },
    }


def manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [config_map()]
    for workload in WORKLOADS:
        documents.append(deployment(workload))
        if workload.port is not None:
            documents.append(service(workload))
        documents.append(disruption_budget(workload))
        if workload.autoscale:
            documents.append(autoscaler(workload))
    return documents


def render() -> str:
    header = "# Rendered by deploy/kubernetes/render.py: edit that script, not this file.\n"
    return header + yaml.safe_dump_all(manifests(), sort_keys=False)


if __name__ == "__main__":
    sys.stdout.write(render())
