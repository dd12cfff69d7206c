import TernWire

extension Broker {
    /// acks=all to a partition with one replica (a single node's, or a cluster's with replication
    /// factor 1) when `min.insync.replicas` asks for more than one: NOT_ENOUGH_REPLICAS with
    /// nothing appended, as Kafka answers — one replica cannot be that many in-sync replicas.
    /// nil when the produce may go on.
    func refuseSingleReplicaAcksAll(_ topic: String, _ partition: Int32) -> ProduceResponse.Partition? {
        let minIsr = minInSyncReplicas(topic)
        guard minIsr > 1 else { return nil }
        return ProduceResponse.Partition(
            partition: partition, errorCode: .notEnoughReplicas,
            errorMessage: "\(topic)-\(partition): 1 replica, min.insync.replicas is \(minIsr)")
    }
}
