import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Network faults between the nodes of a proxied ``ClusterProcesses``: isolate a node (every link
/// to and from it cut or blackholed), then heal. Process faults (kill -9, SIGSTOP/SIGCONT,
/// restart) are ``ClusterProcesses/kill9(_:)``, ``ClusterProcesses/pause(_:)``,
/// ``ClusterProcesses/resume(_:)`` and ``ClusterProcesses/start(_:)``.
extension ClusterProcesses {
    /// Cuts or blackholes every link between `nodeId` and the other nodes, both directions: the
    /// proxies in front of `nodeId` drop the other nodes' links, and the other nodes' proxies drop
    /// `nodeId`'s. With `fromClients`, clients lose their links to `nodeId` too (they keep them
    /// otherwise, so they may still talk to an isolated leader). Until ``heal()``.
    public func isolate(_ nodeId: Int32, fault: LoopbackProxy.Fault = .cut, fromClients: Bool = false) {
        precondition(!proxies.isEmpty, "isolate needs a cluster started with proxied: true")
        for node in nodes {
            let pair = proxies[node.nodeId] ?? NodeProxies()
            if node.nodeId == nodeId {
                for proxy in pair.all {
                    for other in nodes where other.nodeId != nodeId { proxy.setFault(fault, for: .node(other.nodeId)) }
                    if fromClients { proxy.setFault(fault, for: .other) }
                }
            } else {
                for proxy in pair.all { proxy.setFault(fault, for: .node(nodeId)) }
            }
        }
    }

    /// Lifts every network fault ``isolate(_:fault:fromClients:)`` set.
    public func heal() {
        for pair in proxies.values { pair.all.forEach { $0.clearFaults() } }
    }

    /// The PID of a node's running process, if any.
    public func pid(_ nodeId: Int32) -> Int32? { process(nodeId)?.pid }

    /// Names the node whose `ternd` (found by its `log.dirs` argument under `directory`) holds the
    /// other end of a connection a proxy accepted; `.other` for anyone else.
    static func sourceOf(directory: String, count: Int) -> @Sendable (Int, Int) -> LoopbackProxy.Source {
        let byArgument = Dictionary(
            uniqueKeysWithValues: (1...count).map { ("log.dirs=\(directory)/node-\($0)", Int32($0)) })
        return { peerPort, proxyPort in
            guard let inode = LoopbackSocketOwner.inode(localPort: peerPort, remotePort: proxyPort) else {
                return .other
            }
            for process in LoopbackSocketOwner.processes(named: "ternd") {
                guard let nodeId = process.arguments.lazy.compactMap({ byArgument[$0] }).first,
                    LoopbackSocketOwner.process(process.pid, holds: inode)
                else { continue }
                return .node(nodeId)
            }
            return .other
        }
    }
}
