import TernWire

extension ActiveController {
    /// CreateAcls, on the queue: decided against the working image
    /// (``ControllerDecisions/createAcls(_:_:)``), proposed as one entry, answered once it
    /// commits. `reply` gets NOT_CONTROLLER when this node is not the active controller (or stops
    /// being it before the entry commits), REQUEST_TIMED_OUT when the quorum does not commit in
    /// time. The entry a forwarding broker's request would reach on the controller.
    func createAcls(
        _ request: CreateAclsRequest, reply: @escaping @Sendable (Result<CreateAclsResponse, ControllerError>) -> Void
    ) {
        change(decide({ ControllerDecisions.createAcls($0, request) }), what: "creation of ACLs", reply: reply)
    }

    /// DeleteAcls, on the queue: as ``createAcls(_:reply:)``, with
    /// ``ControllerDecisions/deleteAcls(_:_:)``.
    func deleteAcls(
        _ request: DeleteAclsRequest, reply: @escaping @Sendable (Result<DeleteAclsResponse, ControllerError>) -> Void
    ) {
        change(decide({ ControllerDecisions.deleteAcls($0, request) }), what: "deletion of ACLs", reply: reply)
    }

    private func change<Response: Hashable & Sendable>(
        _ decision: Result<ControllerDecisions.AclChange<Response>, ControllerError>, what: String,
        reply: @escaping @Sendable (Result<Response, ControllerError>) -> Void
    ) {
        let change: ControllerDecisions.AclChange<Response>
        switch decision {
        case .failure(let error): return reply(.failure(error))
        case .success(let decided): change = decided
        }
        // Nothing new (every binding existed, nothing matched, or all were invalid): no entry.
        guard !change.records.isEmpty else { return reply(.success(change.response)) }
        propose(change.records, what: what) { result in
            switch result {
            case .success: reply(.success(change.response))
            case .failure(let error):
                let failed = Self.failure(error, ControllerError.self) { ControllerError($0, $1) }
                reply(.failure(failed))
            }
        }
    }
}
