import TernWire

extension MetadataImage {
    /// ACL bindings sorted (resource, principal, host, operation, permission).
    public var sortedAcls: [AclBinding] { acls.sorted() }

    /// Adds a binding the controller accepted. Adding one that is already present is a
    /// contradiction (the controller only writes new ones, as Kafka's CreateAcls answers an
    /// existing binding without a record), and so is a binding ``AclBinding/invalidReason``
    /// refuses: a broker must never start enforcing something it cannot read back.
    mutating func applyAddAcl(_ binding: AclBinding) throws {
        if let reason = binding.invalidReason {
            throw MetadataImageError(.invalid, "ACL \(binding): \(reason)")
        }
        guard !acls.contains(binding) else {
            throw MetadataImageError(.duplicate, "ACL \(binding) already exists")
        }
        acls.insert(binding)
    }

    /// Removes a binding; removing one that is not present is a contradiction.
    mutating func applyRemoveAcl(_ binding: AclBinding) throws {
        guard acls.remove(binding) != nil else {
            throw MetadataImageError(.unknownEntity, "removal of unknown ACL \(binding)")
        }
    }
}
