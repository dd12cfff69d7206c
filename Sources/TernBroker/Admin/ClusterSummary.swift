import Foundation

/// What `GET /v1/cluster` returns: this node, its listeners and what it holds.
struct ClusterSummary: Codable, Sendable, Equatable {
    struct Node: Codable, Sendable, Equatable {
        var nodeId: Int32
        var host: String
        var port: Int32
        /// `broker`, `controller`.
        var roles: [String]
        var fenced: Bool
        /// The epoch of the broker's current registration (what its broker-to-controller
        /// requests carry).
        var brokerEpoch: Int64
    }

    /// The metadata quorum as this node sees it.
    struct Quorum: Codable, Sendable, Equatable {
        struct Voter: Codable, Sendable, Equatable {
            var nodeId: Int32
            /// Known on the leader only.
            var logEndOffset: Int64?
            var lastContactAgeMs: Int64?
        }
        var role: String
        var epoch: Int64
        var leaderId: Int32?
        var highWatermark: Int64
        var logEndOffset: Int64
        var voters: [Voter]
        /// Broker-only nodes that fetch the log without voting (the leader lists those that
        /// fetched lately; an observer lists itself).
        var observers: [Voter]
    }

    var clusterMode: String
    /// Null until the first controller has written it.
    var clusterId: String?
    var nodeId: Int32
    /// The active controller (the quorum's leader); -1 while there is none.
    var controllerId: Int32
    var version: String
    var uptimeSeconds: Int64
    var ready: Bool
    /// Why the node is not ready, when it is not.
    var notReadyReason: String?
    var quorum: Quorum
    var listeners: [String]
    var adminListeners: [String]
    /// Every registered broker, from the committed metadata image.
    var brokers: [Node]
    var topicCount: Int
    var partitionCount: Int
    /// Partitions this node leads whose in-sync set is smaller than their replica set.
    var underReplicatedPartitions: Int
    /// Partitions of the whole cluster in that state.
    var clusterUnderReplicatedPartitions: Int
    /// Partitions of the whole cluster without a leader that can serve.
    var offlinePartitions: Int

    /// Pretty, key-sorted JSON.
    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain strings and numbers cannot fail.
        return ((try? encoder.encode(self)).map { Array($0) } ?? Array("{}".utf8)) + [UInt8(ascii: "\n")]
    }
}
