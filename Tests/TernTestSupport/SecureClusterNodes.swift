import Dispatch
import Foundation
import Synchronization

/// One node of a cluster started by ``startSecureClusterNodes(directory:scheme:settings:plainListener:count:)``
/// or ``startSaslClusterNodes(directory:usersFile:count:)``.
public struct SecureClusterNode: Sendable {
    public var id: Int32
    /// The node's first client listener (`SCHEME://127.0.0.1:client`): the inter-broker listener,
    /// so the other brokers' replica fetchers connect here too.
    public var client: Int
    /// The PLAINTEXT client listener (no login: for setting up users), when the cluster was
    /// started with one.
    public var plain: Int?
    public var controller: Int
    public var dataDirectory: String
}

/// Starts `count` real `ternd` nodes (each a voter and a broker) whose first client listener is
/// `scheme` (`SSL`, `SASL_SSL`, `SASL_PLAINTEXT`), so it is also the inter-broker listener the
/// replica fetchers use, followed by a PLAINTEXT one when `plainListener`; `settings`
/// (certificates, SASL, authorizer) go to every node. Started together, as a node with
/// `sasl.bootstrap.users.file` waits for the quorum (and the users) before it listens, as a Kafka
/// broker waits for the metadata log. Short election and session timeouts unless `settings` sets
/// them. The caller stops the processes (node i's at index i − 1).
public func startSecureClusterNodes(
    directory: String, scheme: String, settings: [String: String], plainListener: Bool = false, count: Int = 3
) throws -> (nodes: [SecureClusterNode], processes: [BrokerProcess]) {
    let nodes = (1...count).map {
        SecureClusterNode(
            id: Int32($0), client: freeLoopbackPort(), plain: plainListener ? freeLoopbackPort() : nil,
            controller: freeLoopbackPort(), dataDirectory: "\(directory)/node-\($0)")
    }
    let voters = nodes.map { "\($0.id)@127.0.0.1:\($0.controller)" }.joined(separator: ",")
    let started = Mutex<[Int32: Result<BrokerProcess, any Error>]>([:])
    DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
        let node = nodes[index]
        var all = settings
        all["node.id"] = "\(node.id)"
        all["controller.quorum.voters"] = voters
        let plain = node.plain.map { "PLAINTEXT://127.0.0.1:\($0)," } ?? ""
        all["listeners"] =
            "\(scheme)://127.0.0.1:\(node.client),\(plain)CONTROLLER://127.0.0.1:\(node.controller)"
        for (key, value) in [
            ("controller.quorum.election.timeout.ms", "500"), ("broker.session.timeout.ms", "3000"),
            ("broker.heartbeat.interval.ms", "300"),
        ] where all[key] == nil {
            all[key] = value
        }
        let result = Result {
            try BrokerProcess(dataDirectory: node.dataDirectory, port: node.client, settings: all, readyTimeout: 90)
        }
        started.withLock { $0[node.id] = result }
    }
    var processes: [BrokerProcess] = []
    var failure: (any Error)?
    for node in nodes {
        switch started.withLock({ $0[node.id] }) {
        case .success(let process): processes.append(process)
        case .failure(let error): failure = failure ?? error
        case nil: failure = failure ?? BrokerProcessError("node \(node.id) was not started")
        }
    }
    if let failure {
        // Stop the ones that did start: the caller gets no processes to stop.
        for process in processes { process.stop() }
        throw failure
    }
    return (nodes, processes)
}

/// The inter-broker user of ``startSaslClusterNodes(directory:usersFile:count:)``: the users file
/// must hold it (`broker:broker-secret`); it is a super user.
public let saslClusterBrokerUser = (name: "broker", password: "broker-secret")

/// Starts `count` nodes with a SASL_PLAINTEXT listener (the inter-broker one: followers log in as
/// ``saslClusterBrokerUser``, which `usersFile` must hold) and a PLAINTEXT one, all with the same
/// bootstrap users file.
public func startSaslClusterNodes(
    directory: String, usersFile: String, count: Int = 3
) throws -> (nodes: [SecureClusterNode], processes: [BrokerProcess]) {
    try startSecureClusterNodes(
        directory: directory, scheme: "SASL_PLAINTEXT",
        settings: [
            "sasl.bootstrap.users.file": usersFile, "super.users": "User:\(saslClusterBrokerUser.name)",
            "inter.broker.sasl.username": saslClusterBrokerUser.name,
            "inter.broker.sasl.password": saslClusterBrokerUser.password,
        ],
        plainListener: true, count: count)
}
