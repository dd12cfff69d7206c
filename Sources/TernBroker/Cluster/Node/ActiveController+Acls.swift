import TernWire

extension ActiveController {
    /// CreateAcls, on the queue: decided against the working image
    /// (``ControllerDecisions/createAcls(_:_:)``), proposed as one entry, answered once it
    /// commits with the entry's offset (-1 when nothing changed), so the forwarding broker can
    /// wait until it has applied it. When this node is not the active controller (or stops being
    /// it before the entry commits) every binding fails with NOT_CONTROLLER, REQUEST_TIMED_OUT
    /// when the quorum does not commit in time. Served through ``ForwardedApis``.
    func createAcls(_ request: CreateAclsRequest, reply: @escaping @Sendable (CreateAclsResponse, Int64) -> Void) {
        // Nothing new (every binding existed, nothing matched, or all were invalid): no entry.
        proposeAndReply(
            decide({ ControllerDecisions.createAcls($0, request) }), records: \.records,
            what: { _ in "creation of ACLs" }, refused: { reply(request.failed($0.code, $0.message), -1) }
        ) { change, offset in reply(change.response, offset) }
    }

    /// DeleteAcls, on the queue: as ``createAcls(_:reply:)``, with
    /// ``ControllerDecisions/deleteAcls(_:_:)``.
    func deleteAcls(_ request: DeleteAclsRequest, reply: @escaping @Sendable (DeleteAclsResponse, Int64) -> Void) {
        proposeAndReply(
            decide({ ControllerDecisions.deleteAcls($0, request) }), records: \.records,
            what: { _ in "deletion of ACLs" }, refused: { reply(request.failed($0.code, $0.message), -1) }
        ) { change, offset in reply(change.response, offset) }
    }
}
