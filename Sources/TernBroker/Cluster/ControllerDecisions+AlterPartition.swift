import TernWire

extension ControllerDecisions {
    /// What the controller does with one AlterPartition: the records to commit (one entry) and
    /// the answer for each requested partition, in request order.
    struct AlterPartitionDecision: Sendable {
        var records: [MetadataRecord]
        /// The state each accepted partition has once `records` commit; refusals carry their code
        /// and -1/empty state (the controller fills in the committed state: `image` here may hold
        /// changes not yet committed).
        var partitions: [AlterPartitionResponse.Partition]
        /// ISR changes in `records`: (topic-partition name, ISR before, ISR after), for the log.
        var changes: [(what: String, before: [Int32], after: [Int32])]
    }

    /// Decides an AlterPartition from `brokerId` (Kafka's `ReplicationControlManager.alterPartition`):
    /// the broker must be registered at `brokerEpoch` (else the whole request is refused with
    /// `BROKER_ID_NOT_REGISTERED` / `STALE_BROKER_EPOCH`); then each partition is decided on its
    /// own by ``alterIsr(_:topicId:partition:leader:leaderEpoch:partitionEpoch:newIsr:)`` against
    /// the image with the request's earlier partitions applied. A partition whose ISR is already
    /// the requested one is accepted with no record and answered with its current state (its
    /// partition epoch matched, so that state is committed).
    static func alterPartition(
        _ image: MetadataImage, _ request: AlterPartitionRequest
    ) throws(ControllerError) -> AlterPartitionDecision {
        _ = try registered(image, request.brokerId, request.brokerEpoch)
        var working = image
        var decision = AlterPartitionDecision(records: [], partitions: [], changes: [])
        for change in request.partitions {
            do throws(ControllerError) {
                let records = try alterIsr(
                    working, topicId: change.topicId, partition: change.partition, leader: request.brokerId,
                    leaderEpoch: change.leaderEpoch, partitionEpoch: change.partitionEpoch, newIsr: change.newIsr)
                let before = working.partition(change.topicId, change.partition)
                do {
                    working = try working.applying(records)
                } catch {
                    // alterIsr checked every condition the image checks; a refusal here is a bug
                    // in one of them, answered as such rather than trapping.
                    throw ControllerError(.unknownServerError, "ISR change contradicts the image: \(error)")
                }
                // alterIsr found the partition, so it is in the image (before and after).
                guard let after = working.partition(change.topicId, change.partition) else {
                    throw ControllerError(.unknownServerError, "partition \(change.partition) vanished")
                }
                decision.records += records
                if let before, !records.isEmpty {
                    let name = working.topic(id: change.topicId)?.name ?? "\(change.topicId)"
                    decision.changes.append(("\(name)-\(change.partition)", before.isr, after.isr))
                }
                decision.partitions.append(
                    .init(
                        topicId: change.topicId, partition: change.partition, leader: after.leader,
                        leaderEpoch: after.leaderEpoch, partitionEpoch: after.partitionEpoch, isr: after.isr))
            } catch {
                decision.partitions.append(
                    .init(
                        topicId: change.topicId, partition: change.partition, errorCode: error.code,
                        errorMessage: error.message, leader: -1, leaderEpoch: -1, partitionEpoch: -1, isr: []))
            }
        }
        return decision
    }
}
