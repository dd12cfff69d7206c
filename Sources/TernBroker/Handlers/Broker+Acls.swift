import TernWire

extension Broker {
    /// CreateAcls: forwarded to the active controller (``forward(_:_:timeoutMs:)``), which
    /// decides and commits the bindings; answered once this broker has applied the commit, so
    /// the new bindings are enforced here when the client gets the answer (and on every other
    /// broker once it has applied the same entry). Authorization (ALTER on the cluster) is
    /// checked here, by the router, before forwarding.
    func handleCreateAcls(_ request: CreateAclsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: nil)
    }

    /// DeleteAcls: as CreateAcls.
    func handleDeleteAcls(_ request: DeleteAclsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: nil)
    }

    /// DescribeAcls: from this node's committed image (every broker has it).
    func handleDescribeAcls(_ request: DescribeAclsRequest) -> DescribeAclsResponse {
        ControllerDecisions.describeAcls(cluster.image, request)
    }
}
