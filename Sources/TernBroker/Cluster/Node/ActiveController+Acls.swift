import TernWire

extension ActiveController {
    /// CreateAcls, on the queue: decided against the working image
    /// (``ControllerDecisions/createAcls(_:_:)``), proposed as one entry, answered once it
    /// commits with the entry's offset (-1 when nothing changed), so the forwarding broker can
    /// wait until it has applied it. When this node is not the active controller (or stops being
    /// it before the entry commits) every binding fails with NOT_CONTROLLER, REQUEST_TIMED_OUT
    /// when the quorum does not commit in time. Served through ``ForwardedApis``.
    func createAcls(_ request: CreateAclsRequest, reply: @escaping @Sendable (CreateAclsResponse, Int64) -> Void) {
        change(decide({ ControllerDecisions.createAcls($0, request) }), what: "creation of ACLs") { result, offset in
            switch result {
            case .success(let response): reply(response, offset)
            case .failure(let error): reply(request.failed(error.code, error.message), offset)
            }
        }
    }

    /// DeleteAcls, on the queue: as ``createAcls(_:reply:)``, with
    /// ``ControllerDecisions/deleteAcls(_:_:)``.
    func deleteAcls(_ request: DeleteAclsRequest, reply: @escaping @Sendable (DeleteAclsResponse, Int64) -> Void) {
        change(decide({ ControllerDecisions.deleteAcls($0, request) }), what: "deletion of ACLs") { result, offset in
            switch result {
            case .success(let response): reply(response, offset)
            case .failure(let error): reply(request.failed(error.code, error.message), offset)
            }
        }
    }

    private func change<Response: Hashable & Sendable>(
        _ decision: Result<ControllerDecisions.AclChange<Response>, ControllerError>, what: String,
        reply: @escaping @Sendable (Result<Response, ControllerError>, Int64) -> Void
    ) {
        let change: ControllerDecisions.AclChange<Response>
        switch decision {
        case .failure(let error): return reply(.failure(error), -1)
        case .success(let decided): change = decided
        }
        // Nothing new (every binding existed, nothing matched, or all were invalid): no entry.
        guard !change.records.isEmpty else { return reply(.success(change.response), -1) }
        propose(change.records, what: what) { result in
            switch result {
            case .success(let offset): reply(.success(change.response), offset)
            case .failure(let error):
                let failed = Self.failure(error, ControllerError.self) { ControllerError($0, $1) }
                reply(.failure(failed), -1)
            }
        }
    }
}
