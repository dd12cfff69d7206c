import Dispatch
import Foundation
import Synchronization

/// One node of a cluster started by ``startSaslClusterNodes(directory:usersFile:count:)``.
public struct SaslClusterNode: Sendable {
    public var id: Int
    /// The SASL_PLAINTEXT client listener.
    public var client: Int
    /// The PLAINTEXT client listener (no login: for setting up users).
    public var plain: Int
    public var controller: Int
}

/// Starts `count` real `ternd` nodes (each a voter and a broker) with a SASL_PLAINTEXT and a
/// PLAINTEXT client listener and the same bootstrap users file, all together: each waits for the
/// quorum (and the users) before it listens, as a Kafka broker waits for the metadata log. Short
/// election and session timeouts. The caller stops the processes (node i's at index i − 1).
public func startSaslClusterNodes(
    directory: String, usersFile: String, count: Int = 3
) throws -> (nodes: [SaslClusterNode], processes: [BrokerProcess]) {
    let nodes = (1...count).map {
        SaslClusterNode(id: $0, client: freeLoopbackPort(), plain: freeLoopbackPort(), controller: freeLoopbackPort())
    }
    let voters = nodes.map { "\($0.id)@127.0.0.1:\($0.controller)" }.joined(separator: ",")
    let started = Mutex<[Int: Result<BrokerProcess, any Error>]>([:])
    DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
        let node = nodes[index]
        let result = Result {
            try BrokerProcess(
                dataDirectory: "\(directory)/node-\(node.id)", port: node.client,
                settings: [
                    "node.id": "\(node.id)", "controller.quorum.voters": voters,
                    "listeners":
                        "SASL_PLAINTEXT://127.0.0.1:\(node.client),PLAINTEXT://127.0.0.1:\(node.plain),"
                        + "CONTROLLER://127.0.0.1:\(node.controller)",
                    "sasl.bootstrap.users.file": usersFile, "controller.quorum.election.timeout.ms": "500",
                    "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
                ], readyTimeout: 90)
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
