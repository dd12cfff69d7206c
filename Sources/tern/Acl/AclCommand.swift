import ArgumentParser
import TernClient

/// `tern acl add|remove|list`: the cluster's ACL bindings (Kafka's `kafka-acls`).
struct AclCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl", abstract: "Add, remove and list ACLs (enforced with authorizer.enable = true).",
        subcommands: [AclAddCommand.self, AclRemoveCommand.self, AclListCommand.self])
}

/// What `tern acl add` and `tern acl remove` name: one binding.
struct AclBindingOptions: ParsableArguments {
    @Option(help: "The principal: User:NAME (User:CN=... for a TLS client certificate), or User:* for everyone.")
    var principal: String

    @Option(help: "A topic name (or prefix with --prefixed); * for every topic.")
    var topic: String?

    @Option(help: "A consumer group id (or prefix with --prefixed); * for every group.")
    var group: String?

    @Flag(help: "The cluster (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, ..._CONFIGS on it).")
    var cluster = false

    @Flag(help: "Match every name that starts with --topic or --group.")
    var prefixed = false

    @Option(
        help: """
            READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, CLUSTER_ACTION \
            or ALL (any case; describe-configs works too).
            """)
    var operation: String

    @Flag(help: "A DENY binding (deny wins over any allow); default ALLOW.")
    var deny = false

    @Option(help: "The client address the binding applies to; * (default) for any.")
    var host = "*"

    func validate() throws {
        let named = [topic != nil, group != nil, cluster].filter { $0 }.count
        guard named == 1 else { throw ValidationError("name exactly one of --topic, --group, --cluster") }
        if cluster, prefixed { throw ValidationError("--prefixed applies to --topic or --group, not --cluster") }
        _ = try binding()
    }

    /// The binding, checked as the broker will check it.
    func binding() throws -> AclBinding {
        guard let operation = AclOperation(name: operation) else {
            throw ValidationError("unknown operation '\(self.operation)'")
        }
        let (type, name): (AclResourceType, String) =
            if let topic { (.topic, topic) } else if let group { (.group, group) } else {
                (.cluster, AclBinding.clusterResourceName)
            }
        let binding = AclBinding(
            resourceType: type, resourceName: name, patternType: prefixed ? .prefixed : .literal,
            principal: principal, host: host, operation: operation, permission: deny ? .deny : .allow)
        if let reason = binding.invalidReason { throw ValidationError(reason) }
        return binding
    }
}

/// `tern acl add --principal User:NAME (--topic T | --group G | --cluster) [--prefixed] --operation OP [--deny] [--host H]`.
struct AclAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an ACL binding.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var acl: AclBindingOptions

    func run() async throws {
        let binding = try acl.binding()
        let client = try await global.connect()
        try await CLIFailure.wrap {
            do {
                try await client.admin.createAcls([binding])
            } catch {
                await client.close()
                throw error
            }
        }
        await client.close()
        print("Added ACL: \(binding).")
    }
}

/// `tern acl remove ...`: the same arguments as `add`; removes exactly that binding.
struct AclRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an ACL binding.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var acl: AclBindingOptions

    func run() async throws {
        let binding = try acl.binding()
        let client = try await global.connect()
        let removed = try await CLIFailure.wrap {
            do {
                return try await client.admin.deleteAcls(matching: [AclBindingFilter(exactly: binding)])
            } catch {
                await client.close()
                throw error
            }
        }
        await client.close()
        guard !removed.isEmpty else { throw CLIFailure("no such ACL: \(binding)") }
        print("Removed ACL: \(binding).")
    }
}

/// `tern acl list [--principal P] [--topic T] [--group G] [--json]`.
struct AclListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List ACL bindings (all, or those of a principal or resource).")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this principal's bindings (User:NAME).")
    var principal: String?

    @Option(help: "Only the bindings that apply to this topic (its name, *, and prefixes of it).")
    var topic: String?

    @Option(help: "Only the bindings that apply to this group (its id, *, and prefixes of it).")
    var group: String?

    @Flag(
        help: "Print JSON: [{principal, host, resourceType, resourceName, patternType, operation, permission}].")
    var json = false

    struct Entry: Encodable {
        var principal: String
        var host: String
        var resourceType: String
        var resourceName: String
        var patternType: String
        var operation: String
        var permission: String
    }

    func validate() throws {
        if topic != nil, group != nil { throw ValidationError("name at most one of --topic, --group") }
    }

    func run() async throws {
        var filter = AclBindingFilter(principal: principal)
        if let topic {
            filter.resourceType = .topic
            filter.resourceName = topic
            filter.patternType = .match
        } else if let group {
            filter.resourceType = .group
            filter.resourceName = group
            filter.patternType = .match
        }
        let client = try await global.connect()
        let bindings = try await CLIFailure.wrap {
            do {
                return try await client.admin.describeAcls(matching: filter)
            } catch {
                await client.close()
                throw error
            }
        }
        await client.close()
        if json {
            try JSONOutput.print(
                bindings.map {
                    Entry(
                        principal: $0.principal, host: $0.host, resourceType: "\($0.resourceType)",
                        resourceName: $0.resourceName, patternType: "\($0.patternType)", operation: "\($0.operation)",
                        permission: "\($0.permission)")
                })
            return
        }
        var table = Table(["PRINCIPAL", "HOST", "RESOURCE", "PATTERN", "OPERATION", "PERMISSION"])
        for b in bindings {
            table.append([
                b.principal, b.host, "\(b.resourceType):\(b.resourceName)", "\(b.patternType)", "\(b.operation)",
                "\(b.permission)",
            ])
        }
        print(table.render(), terminator: "")
    }
}
