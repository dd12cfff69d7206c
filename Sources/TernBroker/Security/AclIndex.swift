import TernWire

/// The ACL bindings of one image, indexed for the authorizer's per-request check: per resource
/// type, a byte trie over resource names holds each binding at the node of its name, so one walk
/// down the requested name's UTF-8 bytes meets every prefixed binding whose prefix the name starts
/// with and, at the end, the literal bindings of exactly that name. Literal `*` bindings are kept
/// apart (they match every name). A lookup allocates nothing: it walks arrays and dictionaries
/// keyed by bytes and hands entries to a non-escaping closure.
struct AclIndex: Sendable {
    /// What a binding says once its resource is known.
    struct Entry: Hashable, Sendable {
        var principal: String
        var host: String
        var operation: AclOperation
        var permission: AclPermission
    }

    private struct Node: Sendable {
        var children: [UInt8: Int32] = [:]
        var literal: [Entry] = []
        var prefixed: [Entry] = []
    }

    private struct Tree: Sendable {
        /// Node 0 is the root (the empty name).
        var nodes: [Node] = [Node()]
        var wildcard: [Entry] = []

        mutating func insert(_ binding: AclBinding) {
            let entry = Entry(
                principal: binding.principal, host: binding.host, operation: binding.operation,
                permission: binding.permission)
            if binding.patternType == .literal, binding.resourceName == AclBinding.wildcardResource {
                wildcard.append(entry)
                return
            }
            var node = 0
            for byte in binding.resourceName.utf8 {
                if let child = nodes[node].children[byte] {
                    node = Int(child)
                } else {
                    nodes.append(Node())
                    let child = nodes.count - 1
                    nodes[node].children[byte] = Int32(child)
                    node = child
                }
            }
            switch binding.patternType {
            case .literal: nodes[node].literal.append(entry)
            case .prefixed: nodes[node].prefixed.append(entry)
            }
        }

        /// Calls `body` with every entry whose pattern matches `name` until it returns false.
        func forEachMatch(_ name: String, _ body: (Entry) -> Bool) {
            for entry in wildcard where !body(entry) { return }
            var node = 0
            for entry in nodes[0].prefixed where !body(entry) { return }
            for byte in name.utf8 {
                guard let child = nodes[node].children[byte] else { return }
                node = Int(child)
                for entry in nodes[node].prefixed where !body(entry) { return }
            }
            for entry in nodes[node].literal where !body(entry) { return }
        }
    }

    private var topics = Tree()
    private var groups = Tree()
    private var cluster = Tree()

    /// The number of bindings indexed.
    private(set) var count = 0

    init(_ bindings: some Sequence<AclBinding>) {
        for binding in bindings {
            switch binding.resourceType {
            case .topic: topics.insert(binding)
            case .group: groups.insert(binding)
            case .cluster: cluster.insert(binding)
            }
            count += 1
        }
    }

    /// Calls `body` with every binding that matches the resource until `body` returns false.
    func forEachMatch(_ type: AclResourceType, _ name: String, _ body: (Entry) -> Bool) {
        switch type {
        case .topic: topics.forEachMatch(name, body)
        case .group: groups.forEachMatch(name, body)
        case .cluster: cluster.forEachMatch(name, body)
        }
    }
}
