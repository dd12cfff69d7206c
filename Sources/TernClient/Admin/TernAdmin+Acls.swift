import TernWire

extension TernAdmin {
    /// Adds ACL bindings (Kafka's CreateAcls), through the active controller (any broker takes the
    /// request and forwards it); they take effect on each broker once it has applied the change,
    /// on the broker that answered before this returns.
    /// A binding that already exists is not an error.
    /// - Throws: ``TernError`` `.broker` with the first failed binding's code and reason
    ///   (`INVALID_REQUEST` for a malformed binding, `CLUSTER_AUTHORIZATION_FAILED` without ALTER
    ///   on the cluster, `REQUEST_TIMED_OUT` or `NOT_CONTROLLER` naming the lost metadata quorum);
    ///   bindings before it in the list may have been added.
    public func createAcls(_ bindings: [AclBinding]) async throws {
        guard !bindings.isEmpty else { return }
        let response = try await sendToController(CreateAclsRequest(creations: bindings))
        guard response.results.count == bindings.count else {
            throw TernError(
                .protocolError, "create ACLs: \(response.results.count) results for \(bindings.count) bindings")
        }
        for (binding, result) in zip(bindings, response.results) where result.errorCode != .none {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "create ACL \(binding)")
        }
    }

    /// Removes every binding any of `filters` selects (Kafka's DeleteAcls), through the active
    /// controller.
    /// - Returns: the bindings removed, sorted, each once.
    /// - Throws: ``TernError`` `.broker` (`CLUSTER_AUTHORIZATION_FAILED` without ALTER on the
    ///   cluster, a filter's error).
    public func deleteAcls(matching filters: [AclBindingFilter]) async throws -> [AclBinding] {
        guard !filters.isEmpty else { return [] }
        let response = try await sendToController(DeleteAclsRequest(filters: filters))
        var removed: Set<AclBinding> = []
        for result in response.results {
            guard result.errorCode == .none else {
                throw TernError.broker(result.errorCode, result.errorMessage, context: "delete ACLs")
            }
            removed.formUnion(result.deleted)
        }
        return removed.sorted()
    }

    /// The bindings `filter` selects (Kafka's DescribeAcls), sorted, from any broker's metadata.
    /// - Throws: ``TernError`` `.broker` (`CLUSTER_AUTHORIZATION_FAILED` without DESCRIBE on the
    ///   cluster).
    public func describeAcls(matching filter: AclBindingFilter = .all) async throws -> [AclBinding] {
        let response = try await client.sendToAnyBroker(DescribeAclsRequest(filter: filter))
        guard response.errorCode == .none else {
            throw TernError.broker(response.errorCode, response.errorMessage, context: "describe ACLs")
        }
        return response.bindings
    }
}
