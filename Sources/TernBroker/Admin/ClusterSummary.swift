import Foundation

/// What `GET /v1/cluster` returns: this node, its listeners and what it holds.
struct ClusterSummary: Codable, Sendable, Equatable {
    struct Node: Codable, Sendable, Equatable {
        var nodeId: Int32
        var host: String
        var port: Int32
    }

    var clusterMode: String
    var nodeId: Int32
    var controllerId: Int32
    var version: String
    var uptimeSeconds: Int64
    var ready: Bool
    var listeners: [String]
    var adminListeners: [String]
    var brokers: [Node]
    var topicCount: Int
    var partitionCount: Int

    /// Pretty, key-sorted JSON.
    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain strings and numbers cannot fail.
        return ((try? encoder.encode(self)).map { Array($0) } ?? Array("{}".utf8)) + [UInt8(ascii: "\n")]
    }
}
