import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// N real `ternd` processes forming one cluster on loopback: by default each a voter and a broker
/// (`process.roles = broker,controller`); with `roles`, also broker-only observers (a client
/// listener only) and controller-only voters (a controller listener only). Each has its own
/// client, controller and admin ports (free ones) and data directory, all given the same
/// `controller.quorum.voters` (the nodes with the controller role). Nodes are stopped,
/// killed or paused by PID; `stopAll()` (or deinit) stops what is still running.
///
/// With `proxied`, every link between nodes goes through a ``LoopbackProxy`` in front of each
/// node's controller and client listeners: the voters name the controller proxies and each broker
/// advertises (registers) its client proxy, which is where other brokers and clients connect.
/// The proxies tell nodes apart by PID, so ``isolate(_:fault:fromClients:)`` cuts or blackholes
/// one node's links in both directions (ClusterProcesses+Faults.swift).
public final class ClusterProcesses: @unchecked Sendable {
    // @unchecked: the node table is only touched by the test thread that owns this object; the
    // proxies are Sendable; nodes, voters and proxies are set only in init (again on each
    // attempt of a start-up that lost a port race).

    /// One node's fixed addresses and data, kept across restarts.
    public struct Node: Sendable {
        public var nodeId: Int32
        public var clientPort: Int
        public var controllerPort: Int
        public var adminPort: Int
        public var dataDirectory: String
        /// `process.roles`.
        public var roles: String
        public var isVoter: Bool { roles.contains("controller") }
        public var isBroker: Bool { roles.contains("broker") }
        public var bootstrap: String { "127.0.0.1:\(clientPort)" }
        /// The port in front of the client listener (advertised and registered) when proxied.
        public var clientProxyPort: Int?
        /// The port in front of the controller listener (in the voters) when proxied.
        public var controllerProxyPort: Int?
        /// Where clients should bootstrap: the client proxy when proxied, else the listener.
        public var clientAddress: String { "127.0.0.1:\(clientProxyPort ?? clientPort)" }
    }

    /// The proxies in front of one node's listeners.
    public struct NodeProxies: Sendable {
        public var client: LoopbackProxy?
        public var controller: LoopbackProxy?
        public var all: [LoopbackProxy] { [client, controller].compactMap { $0 } }
    }

    public private(set) var nodes: [Node] = []
    /// `controller.quorum.voters`.
    public private(set) var voters = ""
    private let settings: [String: String]
    /// Node id → its proxies (empty unless proxied).
    public private(set) var proxies: [Int32: NodeProxies] = [:]
    private var processes: [Int32: BrokerProcess] = [:]
    private var paused: Set<Int32> = []
    private var earlierLogs: [Int32: String] = [:]

    /// How many times `init` lays the cluster out on fresh ports when a node cannot bind one.
    public static let startAttempts = 4

    /// Starts `count` nodes (ids 1…count) under `directory` and waits until each listens.
    ///
    /// The ports are picked free, then given to the nodes; another process on the machine can
    /// take one in between. When a node then exits unable to bind, every node started so far is
    /// stopped, the data directories are cleared, and the cluster is laid out again on fresh ports
    /// (at most ``startAttempts`` times). Restarts later (``start(_:)``) keep a node's ports.
    /// - Parameters:
    ///   - settings: extra `--set` overrides for every node (timeouts, for example).
    ///   - roles: `process.roles` of node i at index i − 1 (default `broker,controller` for all).
    ///   - deferred: nodes not started now (``start(_:)`` them later).
    ///   - proxied: put a ``LoopbackProxy`` in front of every listener and route all inter-node
    ///     traffic through them.
    public init(
        count: Int, directory: String, settings: [String: String] = [:], roles: [String] = [],
        deferred: Set<Int32> = [], proxied: Bool = false
    ) throws {
        self.settings = settings
        var attempt = 1
        while true {
            try layOut(count: count, directory: directory, roles: roles, proxied: proxied)
            do {
                for node in nodes where !deferred.contains(node.nodeId) { try start(node.nodeId) }
                return
            } catch let error as BrokerProcessError where error.isAddressInUse && attempt < Self.startAttempts {
                attempt += 1
                stopAll()
                for pair in proxies.values { pair.all.forEach { $0.stop() } }
                for node in nodes { try? FileManager.default.removeItem(atPath: node.dataDirectory) }
                earlierLogs = [:]
            }
        }
    }

    /// Picks every node's ports (and proxies) and the voters string.
    private func layOut(count: Int, directory: String, roles: [String], proxied: Bool) throws {
        var nodes: [Node] = []
        var proxies: [Int32: NodeProxies] = [:]
        for i in 1...count {
            var node = Node(
                nodeId: Int32(i), clientPort: freeLoopbackPort(), controllerPort: freeLoopbackPort(),
                adminPort: freeLoopbackPort(), dataDirectory: "\(directory)/node-\(i)",
                roles: i <= roles.count ? roles[i - 1] : "broker,controller")
            if proxied {
                let sourceOf = Self.sourceOf(directory: directory, count: count)
                var pair = NodeProxies()
                if node.isBroker { pair.client = try LoopbackProxy(upstreamPort: node.clientPort, sourceOf: sourceOf) }
                if node.isVoter {
                    pair.controller = try LoopbackProxy(upstreamPort: node.controllerPort, sourceOf: sourceOf)
                }
                node.clientProxyPort = pair.client?.port
                node.controllerProxyPort = pair.controller?.port
                proxies[node.nodeId] = pair
            }
            nodes.append(node)
        }
        self.nodes = nodes
        self.proxies = proxies
        voters = nodes.filter(\.isVoter).map { "\($0.nodeId)@127.0.0.1:\($0.controllerProxyPort ?? $0.controllerPort)" }
            .joined(separator: ",")
    }

    /// The node with `nodeId`.
    public func node(_ nodeId: Int32) -> Node {
        guard let node = nodes.first(where: { $0.nodeId == nodeId }) else { preconditionFailure("no node \(nodeId)") }
        return node
    }

    /// The running process of a node, if any.
    public func process(_ nodeId: Int32) -> BrokerProcess? { processes[nodeId] }

    /// Starts (or restarts) a node on its own ports and data directory; waits until it listens.
    public func start(_ nodeId: Int32) throws {
        let node = node(nodeId)
        var all = settings
        all["node.id"] = "\(nodeId)"
        all["process.roles"] = node.roles
        all["controller.quorum.voters"] = voters
        var listeners: [String] = []
        if node.isBroker { listeners.append("PLAINTEXT://127.0.0.1:\(node.clientPort)") }
        if node.isVoter { listeners.append("CONTROLLER://127.0.0.1:\(node.controllerPort)") }
        all["listeners"] = listeners.joined(separator: ",")
        if let proxyPort = node.clientProxyPort { all["advertised.listeners"] = "PLAINTEXT://127.0.0.1:\(proxyPort)" }
        all["admin.listeners"] = "127.0.0.1:\(node.adminPort)"
        // A controller-only node has no client listener: it is up once its controller listener is.
        processes[nodeId] = try BrokerProcess(
            dataDirectory: node.dataDirectory, port: node.isBroker ? node.clientPort : node.controllerPort,
            settings: all, readyTimeout: 60)
    }

    /// SIGTERM (SIGKILL past `timeout`), reaped.
    public func stop(_ nodeId: Int32, timeout: TimeInterval = 20) {
        resume(nodeId)
        processes[nodeId]?.stop(timeout: timeout)
        retire(nodeId)
    }

    /// SIGKILL, reaped.
    public func kill9(_ nodeId: Int32) {
        resume(nodeId)
        processes[nodeId]?.kill9()
        retire(nodeId)
    }

    /// SIGSTOP: the process stays, frozen (no heartbeats, no Raft messages).
    public func pause(_ nodeId: Int32) {
        guard let process = processes[nodeId] else { return }
        kill(process.pid, SIGSTOP)
        paused.insert(nodeId)
    }

    /// SIGCONT after ``pause(_:)``.
    public func resume(_ nodeId: Int32) {
        guard let process = processes[nodeId], paused.remove(nodeId) != nil else { return }
        kill(process.pid, SIGCONT)
    }

    /// What a node wrote to stderr so far, its earlier processes' output first (after a restart).
    public func log(_ nodeId: Int32) -> String { (earlierLogs[nodeId] ?? "") + (processes[nodeId]?.log ?? "") }

    /// Forgets a stopped node's process, keeping its log (the process deletes its file).
    private func retire(_ nodeId: Int32) {
        if let process = processes[nodeId] {
            earlierLogs[nodeId, default: ""] += process.log + "--- node \(nodeId) stopped (pid \(process.pid)) ---\n"
        }
        processes[nodeId] = nil
    }

    /// Every node's log, for a failure message.
    public var logs: String {
        nodes.map { "--- node \($0.nodeId) ---\n\(log($0.nodeId))" }.joined(separator: "\n")
    }

    /// Resumes paused nodes and stops every running one (SIGTERM, then SIGKILL past the timeout).
    public func stopAll() {
        for id in paused { resume(id) }
        for (_, process) in processes { process.stop(timeout: 20) }
        processes = [:]
    }

    deinit {
        stopAll()
        for pair in proxies.values { pair.all.forEach { $0.stop() } }
    }
}
