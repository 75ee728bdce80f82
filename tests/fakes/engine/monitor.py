"""The gRPC services a running program talks to: ResourceMonitor and Engine (logs)."""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    resource_pb2,
    resource_pb2_grpc,
)

from tests.fakes.engine import cloud_outputs
from tests.fakes.engine.deployment import Deployment
from tests.fakes.engine.props import from_struct, reveal, to_struct
from tests.fakes.engine.steps import Halted, StepFailed

FEATURES = {
    "secrets": resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    "aliasSpecs": resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
    "deletedWith": resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
}
SEVERITIES = {engine_pb2.INFO: "info", engine_pb2.WARNING: "warning", engine_pb2.ERROR: "error"}


class Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, deployment: Deployment, parallel: int) -> None:
        self.d = deployment
        self.parallel = parallel

    def _guard(self, context: Any, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Halted as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"resource monitor shut down: {exc}")
        except StepFailed as exc:
            self.d.failed = True
            self.d.steps.gate.close("a step failed")
            context.abort(grpc.StatusCode.UNAVAILABLE, f"step failed: {exc}")

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return resource_pb2.DeploymentInfo(
            project=self.d.project, stack=self.d.stack, organization="organization",
            dryRun=False, parallel=self.parallel, supportedFeatures=list(FEATURES.values()))

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in FEATURES)

    def RegisterResource(self, request: Any, context: Any) -> Any:
        if request.remote:
            context.abort(grpc.StatusCode.UNIMPLEMENTED,
                          "the stand-in pulumi does not run multi-language components")
        state = self._guard(context, self.d.register, request)
        return resource_pb2.RegisterResourceResponse(
            urn=state["urn"], id=state.get("id", ""), object=to_struct(state["outputs"]))

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        self.d.register_outputs(request.urn, from_struct(request.outputs))
        return empty_pb2.Empty()

    def ReadResource(self, request: Any, context: Any) -> Any:
        state = self._guard(context, self.d.read, request)
        return resource_pb2.ReadResourceResponse(urn=state["urn"], id=state["id"],
                                                 properties=to_struct(state["outputs"]))

    def Invoke(self, request: Any, context: Any) -> Any:
        answer = cloud_outputs.invoke(request.tok, reveal(from_struct(request.args)))
        return provider_pb2.InvokeResponse(**{"return": to_struct(answer)})

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


class Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.root = ""

    def Log(self, request: Any, context: Any) -> Any:
        severity = SEVERITIES.get(request.severity)
        if severity:
            self.d.steps.report.diag(request.message, request.urn, severity)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()


def serve(deployment: Deployment, parallel: int) -> tuple[grpc.Server, str, str]:
    """Start both services on one port; returns (server, monitor address, engine address)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(Monitor(deployment, parallel), server)
    engine_pb2_grpc.add_EngineServicer_to_server(Engine(deployment), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    return server, address, address
