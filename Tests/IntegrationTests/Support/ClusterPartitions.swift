import Foundation
import TernTestSupport
import TernWire
import XCTest

/// What the replicated-partition tests ask a running cluster: a partition as a node's Metadata
/// shows it, broker epochs from `/v1/cluster`, topic ids from a node's topic file, and
/// AlterPartition sent to the active controller's controller listener as a leader sends it.
extension ClusterProcesses {
    /// Partition `partition` of `topic` in `nodeId`'s Metadata answer; nil when it does not answer.
    func metadataPartition(_ nodeId: Int32, _ topic: String, _ partition: Int32 = 0) -> MetadataResponse.Partition? {
        guard let connection = try? RawConnection(port: node(nodeId).clientPort, timeout: 5),
            let (status, response) = try? connection.roundTrip(MetadataRequest(topics: [topic])),
            status.errorCode == .none
        else { return nil }
        return response?.topics.first { $0.name == topic && $0.errorCode == .none }?.partitions.first {
            $0.partition == partition
        }
    }

    /// Every registered broker's epoch, from `nodeId`'s `/v1/cluster`.
    func brokerEpochs(askingNode nodeId: Int32) throws -> [Int32: Int64] {
        let body = try httpGet(port: node(nodeId).adminPort, "/v1/cluster").body
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        var epochs: [Int32: Int64] = [:]
        for broker in try XCTUnwrap(json["brokers"] as? [[String: Any]]) {
            let id = try XCTUnwrap(broker["nodeId"] as? Int)
            epochs[Int32(id)] = Int64(try XCTUnwrap(broker["brokerEpoch"] as? Int))
        }
        return epochs
    }

    /// The topic's id as `nodeId` recorded it when it materialized the topic (the Metadata API
    /// does not carry topic ids); nil until then.
    func topicId(_ nodeId: Int32, _ topic: String) -> MetadataUUID? {
        let path = node(nodeId).dataDirectory + "/__tern_local_topics.json"
        guard let data = FileManager.default.contents(atPath: path),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let topics = json["topics"] as? [[String: Any]],
            let hex = topics.first(where: { $0["name"] as? String == topic })?["id"] as? String, hex.count == 32,
            let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        return MetadataUUID(high: high, low: low)
    }

    /// AlterPartition to the controller listeners of `nodes` in turn until the active controller
    /// answers (retried while none does, up to `seconds`); nil when none did.
    func alterPartition(
        _ request: AlterPartitionRequest, askingNodes nodes: [Int32], seconds: Double = 60
    ) -> AlterPartitionResponse? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for nodeId in nodes {
                guard let connection = try? RawConnection(port: node(nodeId).controllerPort, timeout: 10),
                    let (status, response) = try? connection.roundTrip(request), status.errorCode == .none,
                    let response, response.errorCode != .notController
                else { continue }
                return response
            }
            usleep(200_000)
        }
        return nil
    }
}
