import TernWire

/// The ACL bindings of one image, indexed for the authorizer's per-request check. Per resource
/// type: literal bindings in a dictionary by name (one hash per check), literal `*` bindings
/// apart (they match every name), and prefixed bindings in a byte trie, so one walk down the
/// requested name's UTF-8 bytes meets every prefix the name starts with — and stops at the first
/// byte no prefix continues with (at once when there are no prefixed bindings). A lookup
/// allocates nothing: it hashes, walks arrays and dictionaries keyed by bytes, and hands entries
/// to a non-escaping closure.
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
        var prefixed: [Entry] = []
    }

    private struct Tree: Sendable {
        /// The prefix trie; node 0 is the root (the empty prefix).
        var nodes: [Node] = [Node()]
        var literal: [String: [Entry]] = [:]
        var wildcard: [Entry] = []

        mutating func insert(_ binding: AclBinding) {
            let entry = Entry(
                principal: binding.principal, host: binding.host, operation: binding.operation,
                permission: binding.permission)
            if binding.patternType == .literal {
                if binding.resourceName == AclBinding.wildcardResource {
                    wildcard.append(entry)
                } else {
                    literal[binding.resourceName, default: []].append(entry)
                }
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
            nodes[node].prefixed.append(entry)
        }

        /// Calls `body` with every entry whose pattern matches `name` until it returns false.
        func forEachMatch(_ name: String, _ body: (Entry) -> Bool) {
            for entry in wildcard where !body(entry) { return }
            if let entries = literal[name] {
                for entry in entries where !body(entry) { return }
            }
            var node = 0
            for entry in nodes[0].prefixed where !body(entry) { return }
            for byte in name.utf8 {
                guard let child = nodes[node].children[byte] else { return }
                node = Int(child)
                for entry in nodes[node].prefixed where !body(entry) { return }
            }
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
