import TernWire

/// The node's place in the cluster (DESIGN.md section 6), read from Kafka's KRaft keys:
/// `process.roles`, `node.id`, `controller.quorum.voters`, `controller.listener.names` and the
/// quorum's timeouts. Part of ``BrokerConfig`` (``BrokerConfig/cluster``); what the quorum driver
/// and the broker's registration are started with.
///
/// With no voters (the default) this node alone is the quorum: a single-node broker runs the same
/// code as a cluster and needs no controller listener.
public struct ClusterConfig: Sendable, Hashable {
    /// One `ID@HOST:PORT` entry of `controller.quorum.voters`: where a voter's controller listener is.
    public struct Voter: Sendable, Hashable, CustomStringConvertible {
        public var nodeId: Int32
        public var host: String
        public var port: UInt16

        public init(nodeId: Int32, host: String, port: UInt16) {
            self.nodeId = nodeId
            self.host = host
            self.port = port
        }

        /// `ID@HOST:PORT`, with brackets around an IPv6 host.
        public var description: String {
            host.contains(":") ? "\(nodeId)@[\(host)]:\(port)" : "\(nodeId)@\(host):\(port)"
        }
    }

    /// What this process does (`process.roles`): broker, controller, or both (the default).
    public typealias Roles = BrokerRegistrationRecord.Roles

    /// `node.id`.
    public var nodeId: Int32
    /// `process.roles`.
    public var roles: Roles
    /// `controller.quorum.voters` in the order written; empty means this node alone is the quorum.
    public var voters: [Voter]
    /// `controller.listener.names`, upper-cased; the first names the listener controllers use.
    public var controllerListenerNames: [String]
    /// This node's controller listener (a listener in `listeners` named by
    /// `controller.listener.names`), when it has one, with its protocol from
    /// `listener.security.protocol.map`. Required of a controller when voters are given.
    public var controllerListener: Listener?
    /// `listener.security.protocol.map`.
    public var securityProtocolMap = ListenerSecurityProtocolMap()
    /// How the voters' controller listeners are secured (the map's entry for the first name of
    /// `controller.listener.names`): what this node speaks when it connects to a controller, and
    /// what its own controller listener serves. `.plaintext` or `.ssl`.
    public var controllerSecurityProtocol: SecurityProtocol {
        securityProtocolMap.securityProtocol(of: controllerListenerNames.first ?? "CONTROLLER")
    }
    /// `broker.session.timeout.ms`: a broker without a heartbeat this long is fenced.
    public var brokerSessionTimeoutMs: Int64
    /// `broker.heartbeat.interval.ms`: how often a broker heartbeats to the active controller.
    public var brokerHeartbeatIntervalMs: Int64
    /// `controller.quorum.election.timeout.ms`: how long a candidate waits before a new election.
    public var electionTimeoutMs: Int64
    /// `controlled.shutdown.enable`: a stopping broker first has its leadership moved away.
    public var controlledShutdownEnable = true
    /// `controlled.shutdown.timeout.ms`: the longest a controlled shutdown waits for the controller.
    public var controlledShutdownTimeoutMs: Int64 = 30_000
    /// `auto.leader.rebalance.enable`: the active controller moves leadership back to preferred replicas.
    public var autoLeaderRebalanceEnable = true
    /// `leader.imbalance.check.interval.seconds`: how often it looks for partitions to move back.
    public var leaderImbalanceCheckIntervalSeconds: Int64 = 300
    /// `controller.quorum.fetch.timeout.ms`: a follower without a fetch answered by the leader this
    /// long starts an election (KIP-595).
    public var fetchTimeoutMs: Int64
    /// `metadata.log.max.snapshot.interval.ms`: longest time between metadata snapshots (0: no time bound).
    public var maxSnapshotIntervalMs: Int64
    /// `metadata.log.max.record.bytes.between.snapshots`: metadata log bytes that trigger a snapshot.
    public var maxRecordBytesBetweenSnapshots: Int64

    /// True when `controller.quorum.voters` is empty: this node is the whole quorum.
    public var isSingleNodeQuorum: Bool { voters.isEmpty }
    /// The voters' node ids: `[nodeId]` for a single-node quorum.
    public var voterIds: [Int32] { voters.isEmpty ? [nodeId] : voters.map(\.nodeId) }
    /// True when this node votes in the metadata quorum.
    public var isVoter: Bool { roles.contains(.controller) }
    /// This node's own entry of `controller.quorum.voters`, when it has one.
    public var localVoter: Voter? { voters.first { $0.nodeId == nodeId } }

    /// The cluster settings of a configuration whose values were each validated on their own.
    ///
    /// - Parameters:
    ///   - values: every key's effective value.
    ///   - listeners: `listeners`, parsed (every name, the controller's included).
    /// - Throws: ``ConfigError`` naming the key and what is wrong: bad roles or voters, a
    ///   controller missing from the voters or its listener, a broker-only node without voters,
    ///   a heartbeat interval not below the session timeout.
    init(values: [String: String], listeners: [Listener]) throws(ConfigError) {
        func int(_ key: String) -> Int64 { Int64(values[key] ?? "") ?? 0 }  // validated by its definition
        nodeId = Int32(clamping: int("node.id"))
        roles = try Self.parseRoles(values["process.roles"] ?? "")
        voters = try Self.parseVoters(values["controller.quorum.voters"] ?? "")
        controllerListenerNames = try Self.parseListenerNames(values["controller.listener.names"] ?? "")
        brokerSessionTimeoutMs = int("broker.session.timeout.ms")
        brokerHeartbeatIntervalMs = int("broker.heartbeat.interval.ms")
        electionTimeoutMs = int("controller.quorum.election.timeout.ms")
        controlledShutdownEnable = values["controlled.shutdown.enable"] != "false"
        controlledShutdownTimeoutMs = int("controlled.shutdown.timeout.ms")
        autoLeaderRebalanceEnable = values["auto.leader.rebalance.enable"] != "false"
        leaderImbalanceCheckIntervalSeconds = max(1, int("leader.imbalance.check.interval.seconds"))
        fetchTimeoutMs = int("controller.quorum.fetch.timeout.ms")
        maxSnapshotIntervalMs = int("metadata.log.max.snapshot.interval.ms")
        maxRecordBytesBetweenSnapshots = int("metadata.log.max.record.bytes.between.snapshots")

        let names = controllerListenerNames
        let controllerListeners = listeners.filter { names.contains($0.name) }
        if controllerListeners.count > 1 {
            throw ConfigError(
                origin: "listeners",
                reason: "\(controllerListeners.count) controller listeners ("
                    + controllerListeners.map(\.description).joined(separator: ", ")
                    + "); a node has at most one listener named in controller.listener.names")
        }
        securityProtocolMap = try ListenerSecurityProtocolMap(parsing: values[ListenerSecurityProtocolMap.key] ?? "")
        try securityProtocolMap.check(controllerNames: names)
        let securedAs = controllerSecurityProtocol
        controllerListener = controllerListeners.first
        controllerListener?.securityProtocol = securedAs
        if let own = controllerListeners.first {
            let served = securityProtocolMap.securityProtocol(of: own.name)
            // Controllers dial the first name's protocol: a listener of another would refuse them.
            guard served == securedAs else {
                throw ConfigError(
                    origin: ListenerSecurityProtocolMap.key,
                    reason: "\(own) is \(served.rawValue), but controllers connect "
                        + "with \(securedAs.rawValue) (the protocol of \(names[0]), the first of "
                        + "controller.listener.names); map them alike")
            }
        }
        try checkRoles(listeners: listeners)
        guard brokerHeartbeatIntervalMs < brokerSessionTimeoutMs else {
            throw ConfigError(
                origin: "broker.heartbeat.interval.ms",
                reason: "\(brokerHeartbeatIntervalMs) must be below broker.session.timeout.ms "
                    + "(\(brokerSessionTimeoutMs)), or a live broker is fenced between two heartbeats")
        }
    }

    /// The rules that tie roles, voters and listeners together (Kafka's `KafkaConfig` checks).
    private func checkRoles(listeners: [Listener]) throws(ConfigError) {
        let voterList = voters.map(\.description).joined(separator: ",")
        if roles.contains(.controller), !voters.isEmpty {
            guard voters.contains(where: { $0.nodeId == nodeId }) else {
                throw ConfigError(
                    origin: "controller.quorum.voters",
                    reason: "node.id \(nodeId) is not among the voters (\(voterList)); a node with the "
                        + "controller role must be one of them")
            }
            guard controllerListener != nil else {
                let name = controllerListenerNames.first ?? "CONTROLLER"
                throw ConfigError(
                    origin: "listeners",
                    reason: "no listener named \(name) (controller.listener.names) in "
                        + "\(listeners.map(\.description).joined(separator: ",")); a controller with voters "
                        + "needs one, e.g. listeners = PLAINTEXT://127.0.0.1:9092,\(name)://127.0.0.1:9093")
            }
        }
        if !roles.contains(.controller) {
            guard !voters.isEmpty else {
                throw ConfigError(
                    origin: "controller.quorum.voters",
                    reason: "process.roles = broker needs the voters to register with "
                        + "(controller.quorum.voters = ID@HOST:PORT,...)")
            }
            if voters.contains(where: { $0.nodeId == nodeId }) {
                throw ConfigError(
                    origin: "controller.quorum.voters",
                    reason: "node.id \(nodeId) is a voter, but process.roles = broker does not vote; "
                        + "add the controller role or give the broker an id outside the voters (\(voterList))")
            }
            if let listener = controllerListener {
                throw ConfigError(
                    origin: "listeners",
                    reason: "\(listener) is a controller listener (controller.listener.names), but "
                        + "process.roles = broker has no controller to serve on it")
            }
        }
        if !roles.contains(.broker), voters.isEmpty {
            throw ConfigError(
                origin: "controller.quorum.voters",
                reason: "process.roles = controller needs the voters: a controller-only quorum of one "
                    + "has no broker to serve")
        }
        if !roles.contains(.broker), listeners.contains(where: { $0.name != controllerListener?.name }) {
            throw ConfigError(
                origin: "listeners",
                reason: "process.roles = controller serves no clients: list only its controller listener "
                    + "(\(controllerListenerNames.first ?? "CONTROLLER")://HOST:PORT)")
        }
    }

    /// Parses `process.roles`: `broker`, `controller`, or both, comma-separated, each once.
    static func parseRoles(_ text: String) throws(ConfigError) -> Roles {
        var roles: Roles = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let word = String(item).trimmingWhitespace()
            let role: Roles
            switch word {
            case "broker": role = .broker
            case "controller": role = .controller
            default:
                throw ConfigError(
                    origin: "process.roles",
                    reason: "'\(word)' is not a role: use broker, controller, or broker,controller")
            }
            guard !roles.contains(role) else {
                throw ConfigError(origin: "process.roles", reason: "'\(word)' is listed twice")
            }
            roles.insert(role)
        }
        return roles
    }

    /// Parses `controller.quorum.voters`: comma-separated `ID@HOST:PORT`, ids 0…2147483647 and
    /// ports 1…65535, each id and each address once. Empty text is no voters.
    static func parseVoters(_ text: String) throws(ConfigError) -> [Voter] {
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty { return [] }
        var voters: [Voter] = []
        // Index by id and by address, so even a hostile list of millions is checked in one pass.
        var byId: [Int32: Voter] = [:]
        var byAddress: [String: Voter] = [:]
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(item).trimmingWhitespace()
            let voter = try parseVoter(entry)
            if let other = byId.updateValue(voter, forKey: voter.nodeId) {
                throw ConfigError(
                    origin: "controller.quorum.voters",
                    reason: "node id \(voter.nodeId) appears twice (\(other), \(entry))")
            }
            if let other = byAddress.updateValue(voter, forKey: "\(voter.host.lowercased()):\(voter.port)") {
                throw ConfigError(
                    origin: "controller.quorum.voters",
                    reason: "\(other) and \(entry) name the same address; each voter needs its own")
            }
            voters.append(voter)
        }
        return voters
    }

    private static func parseVoter(_ entry: String) throws(ConfigError) -> Voter {
        func refuse(_ reason: String) -> ConfigError {
            ConfigError(origin: "controller.quorum.voters", reason: "'\(entry)': \(reason) (expected ID@HOST:PORT)")
        }
        guard !entry.isEmpty else { throw refuse("empty entry") }
        guard let at = entry.firstIndex(of: "@") else { throw refuse("missing ID@") }
        let idText = entry[..<at]
        guard !idText.isEmpty, idText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw refuse("node id '\(idText)' is not a whole number")
        }
        guard idText.utf8.count <= 10, let id = Int64(idText), id <= Int64(Int32.max) else {
            throw refuse("node id \(idText) is outside 0...\(Int32.max)")
        }
        // The address is checked by the listener parser: same host rules, same brackets.
        let rawAddress = entry[entry.index(after: at)...]
        let address: Listener
        do {
            address = try Listener(parsing: "VOTER://" + rawAddress)
        } catch {
            throw refuse(error.reason)
        }
        let rawHost = rawAddress[..<(rawAddress.lastIndex(of: ":") ?? rawAddress.endIndex)]
        guard !rawHost.isEmpty, rawHost != "[]" else { throw refuse("missing host") }
        guard address.host != "0.0.0.0", address.host != "::" else {
            throw refuse("\(address.host) is not an address other nodes can connect to")
        }
        guard address.port > 0 else { throw refuse("port must be a number from 1 to 65535") }
        return Voter(nodeId: Int32(id), host: address.host, port: UInt16(address.port))
    }

    /// Parses `controller.listener.names`: comma-separated listener names, at least one, upper-cased.
    static func parseListenerNames(_ text: String) throws(ConfigError) -> [String] {
        var names: [String] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(item).trimmingWhitespace()
            guard Listener.isValidName(name) else {
                throw ConfigError(
                    origin: "controller.listener.names",
                    reason: "'\(name)' is not a listener name (1-64 ASCII letters, digits, '_' or '-')")
            }
            // The security protocols' names are client listeners' (PLAINTEXT://, SSL://, ...).
            if let clientName = SecurityProtocol(rawValue: name.uppercased())?.rawValue {
                throw ConfigError(
                    origin: "controller.listener.names",
                    reason: "\(clientName) is a client listener; name the controller's listener differently (CONTROLLER)")
            }
            guard !names.contains(name.uppercased()) else {
                throw ConfigError(origin: "controller.listener.names", reason: "'\(name)' is listed twice")
            }
            names.append(name.uppercased())
        }
        return names
    }
}
